// What the kernel fast path needs of the host, checked before anything is applied so that
// `validate` and `start` can say exactly what is missing: the nft program, the right to change
// the ruleset (root or CAP_NET_ADMIN), conntrack for the connection table and flush-on-down,
// and dsr's interfaces. A config without nat or dsr services needs none of it.

import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import type { Config, ServiceConfig } from '../config/types.ts';
import { kernelNotes } from '../config/kernel-schema.ts';
import { PASSIVE_DEFAULTS } from '../config/passive-schema.ts';
import { exec, findExecutable } from './exec.ts';
import { render } from './render.ts';
import { configViews } from './snapshot.ts';
import { transaction } from './transaction.ts';

/** Bit of CAP_NET_ADMIN in the capability sets of /proc/<pid>/status. */
const CAP_NET_ADMIN = 12n;

export interface KernelTools {
  nft: string;
  /** null when conntrack is not installed: no connection table, no flush-on-down */
  conntrack: string | null;
}

export interface KernelServiceNeeds {
  name: string;
  mode: string;
  interface: string | null;
  flushOnDown: boolean;
  /** the VIP is IPv6 */
  ipv6: boolean;
}

export interface Requirements {
  /** null when an error stops the kernel services */
  tools: KernelTools | null;
  errors: string[];
  warnings: string[];
}

export function checkRequirements(services: readonly KernelServiceNeeds[]): Requirements {
  const errors: string[] = [];
  const warnings: string[] = [];
  const nft = findExecutable('nft');
  if (nft === null) errors.push('nft not found on PATH: install nftables (Debian: apt-get install nftables); nat and dsr services are nftables rules');
  if (!hasNetAdmin()) {
    errors.push(`nat and dsr services change the kernel's ruleset: they need root or CAP_NET_ADMIN, which this process (uid ${process.getuid?.() ?? '?'}) does not have`);
  }
  const conntrack = findExecutable('conntrack');
  if (conntrack === null) {
    const flushing = services.filter((s) => s.flushOnDown && s.mode === 'nat').map((s) => `services.${s.name}`);
    if (flushing.length > 0) errors.push(`conntrack not found on PATH: install conntrack (Debian: apt-get install conntrack); flush-on-down of ${flushing.join(', ')} deletes connections with it`);
    else if (services.some((s) => s.mode === 'nat')) warnings.push('conntrack not found on PATH: install conntrack to list the connections of nat services');
  }
  for (const s of services) {
    if (s.interface !== null && !existsSync(`/sys/class/net/${s.interface}`)) {
      errors.push(`services.${s.name}.interface: there is no interface ${s.interface} on this host`);
    }
    // nat hands packets from one interface to another: the kernel must be a router
    const sysctl = s.ipv6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward';
    if (s.mode === 'nat' && readSysctl(sysctl) === '0') {
      warnings.push(`services.${s.name} (nat) forwards packets but ${sysctl} is 0 here: set it to 1 (sysctl -w ${sysctl}=1), or only clients on this host reach the members`);
    }
  }
  return { tools: errors.length === 0 && nft !== null ? { nft, conntrack } : null, errors, warnings };
}

/** The kernel services of a config, as checkRequirements reads them. */
export function kernelNeeds(config: Config): KernelServiceNeeds[] {
  return Object.entries(config.services)
    .filter(([, s]) => s.kernel != null)
    .map(([name, s]) => needsOf(name, s));
}

/** What checkRequirements reads of one service. */
export function needsOf(name: string, s: ServiceConfig): KernelServiceNeeds {
  return { name, mode: s.mode, interface: s.kernel?.interface ?? null, flushOnDown: s.kernel?.flushOnDown ?? false, ipv6: isIPv6(s.listen.ip ?? s.listen.host) };
}

/**
 * Everything `validate` can say about a config's kernel services on this host: what is missing,
 * what runs differently (kernelNotes), and whether nft accepts the ruleset (`nft -c`, which
 * checks against the running kernel without changing anything).
 */
export async function kernelReport(config: Config): Promise<{ errors: string[]; warnings: string[] }> {
  const needs = kernelNeeds(config);
  if (needs.length === 0) return { errors: [], warnings: [] };
  const { tools, errors, warnings } = checkRequirements(needs);
  warnings.push(...kernelNotes(config), ...passiveNotes(config));
  if (tools !== null) {
    const { script } = transaction(null, render(configViews(config)));
    try {
      await exec(tools.nft, ['-c', '-f', '-'], script);
    } catch (err) {
      errors.push(`nft rejects the ruleset of the nat and dsr services: ${(err as Error).message}`);
    }
  }
  return { errors, warnings };
}

/**
 * dsr pools that set passive-health (to anything but the defaults, and not off): the balancer
 * never sees a member's replies, so nothing is counted and no member is ever ejected by it.
 */
export function passiveNotes(config: Config): string[] {
  const notes: string[] = [];
  for (const [name, s] of Object.entries(config.services)) {
    const p = config.pools[s.pool]?.passiveHealth;
    if (s.mode !== 'dsr' || p === undefined || p.failures === 0) continue;
    const d = PASSIVE_DEFAULTS;
    if (p.failures === d.failures && p.ejection === d.ejection && p.maxEjection === d.maxEjection && p.maxEjectedPercent === d.maxEjectedPercent) continue;
    notes.push(`pools.${s.pool}.passive-health: has no effect for services.${name} (dsr): the balancer never sees the members' replies, so it cannot count their failures`);
  }
  return notes;
}

function readSysctl(name: string): string | null {
  try {
    return readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim();
  } catch {
    return null;
  }
}

export function hasNetAdmin(): boolean {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    if (effective === undefined) return process.getuid?.() === 0;
    return ((BigInt(`0x${effective}`) >> CAP_NET_ADMIN) & 1n) === 1n;
  } catch {
    return process.getuid?.() === 0;
  }
}

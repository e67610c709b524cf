// The keys of the kernel forwarding modes, `nat` and `dsr`, as schema pieces that schema.ts
// spreads into the service map, and the checks that go with them: kernel keys on a tcp, udp or
// http service are refused, and so are the user-space keys on a nat or dsr service (the kernel
// forwards packets: it does not connect, retry or send a PROXY header). `kernelNotes` lists what
// a valid config will run differently in the kernel (algorithms nftables cannot express).

import { isIPv6 } from 'node:net';
import { algorithm } from '../balance/index.ts';
import { formatAddress, isWildcard } from './address.ts';
import type { PathIssue } from './issues.ts';
import type { KernelServiceConfig } from './kernel-types.ts';
import { boolean, matching, oneOf } from './schema-parts.ts';
import type { Address, Config } from './types.ts';

export const KERNEL_MODES = ['nat', 'dsr'] as const;

/** Linux interface names: at most 15 characters, and none that nftables would need quoted. */
const INTERFACE = /^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,15}$/;

/** Service keys that only nat and dsr services have. */
export const kernelServiceKeys = {
  protocol: oneOf(['tcp', 'udp'] as const).optional(),
  interface: matching(INTERFACE, 'an interface name (at most 15 letters, digits, ".", "_" or "-")').optional(),
  'source-nat': boolean.optional(),
  'flush-on-down': boolean.optional(),
};

/** A service as parsed, as far as the kernel checks go. */
export interface KernelKeys {
  mode: string;
  listen: Address;
  protocol?: 'tcp' | 'udp';
  interface?: string;
  'source-nat'?: boolean;
  'flush-on-down'?: boolean;
  'proxy-protocol'?: unknown;
  'max-flows'?: number;
  retries?: number;
  timeouts: { connect?: number };
}

interface IssueSink {
  addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void;
}

export function isKernelMode(mode: string): mode is (typeof KERNEL_MODES)[number] {
  return (KERNEL_MODES as readonly string[]).includes(mode);
}

export function checkKernelKeys(s: KernelKeys, ctx: IssueSink): void {
  const issue = (path: (string | number)[], message: string): void => ctx.addIssue({ code: 'custom', path, message });
  if (!isKernelMode(s.mode)) {
    for (const key of Object.keys(kernelServiceKeys) as (keyof typeof kernelServiceKeys)[]) {
      if (s[key] === undefined) continue;
      issue([key], `${key} applies to ${key === 'interface' ? 'dsr services' : 'nat and dsr services'} only; this service is ${s.mode}`);
    }
    return;
  }
  const mode = s.mode;
  if (s.listen.port === 0) issue(['listen'], `a ${mode} service needs a real port: the kernel matches packets by it`);
  if (s.listen.ip !== undefined && isWildcard(s.listen.ip)) {
    issue(['listen'], `a ${mode} service forwards what is sent to its VIP: give the VIP itself, not ${s.listen.ip}`);
  }
  const userSpace = `the kernel forwards ${mode} packets as they are; it does not`;
  if (s['proxy-protocol'] != null) issue(['proxy-protocol'], `${userSpace} add a PROXY header (members see the client's own address${mode === 'nat' ? ', unless source-nat is on' : ''})`);
  if (s.retries !== undefined) issue(['retries'], `${userSpace} connect to members, so there is nothing to retry`);
  if (s.timeouts.connect !== undefined) issue(['timeouts', 'connect'], `${userSpace} connect to members; timeouts.idle is the only timeout of a ${mode} service`);
  if (mode === 'nat' && s['max-flows'] !== undefined) {
    issue(['max-flows'], 'max-flows sizes the flow table of dsr services; nat connections live in conntrack (net.netfilter.nf_conntrack_max)');
  }
  if (mode === 'nat' && s.interface !== undefined) {
    issue(['interface'], 'interface is for dsr services; a nat service\'s packets follow the routing table');
  }
  if (mode === 'dsr' && s.interface === undefined) {
    issue(['interface'], 'missing; a dsr service needs the interface on the members\' layer-2 segment (e.g. interface: eth1)');
  }
  if (mode === 'dsr' && s['source-nat'] !== undefined) {
    issue(['source-nat'], 'dsr rewrites only MAC addresses and members answer clients directly, so there is no source-nat (use mode: nat)');
  }
}

/** The kernel settings of a service with every default filled in; null for the other modes. */
export function kernelServiceConfig(s: KernelKeys): KernelServiceConfig | null {
  if (!isKernelMode(s.mode)) return null;
  return {
    protocol: s.protocol ?? 'tcp',
    interface: s.interface ?? null,
    sourceNat: s['source-nat'] ?? false,
    flushOnDown: s['flush-on-down'] ?? false,
  };
}

/**
 * Rules between a kernel service and its pool: the kernel translates within one address family,
 * and dsr, which rewrites only MAC addresses, cannot change the port.
 */
export function checkKernelServices(config: Config): PathIssue[] {
  const issues: PathIssue[] = [];
  for (const [name, s] of Object.entries(config.services)) {
    if (!isKernelMode(s.mode)) continue;
    const pool = config.pools[s.pool];
    if (pool === undefined) continue;
    const vip = s.listen.ip ?? s.listen.host;
    pool.members.forEach((m, i) => {
      const path = ['pools', s.pool, 'members', i, 'address'];
      const ip = m.address.ip ?? m.address.host;
      if (isLiteral(vip) && isLiteral(ip) && isIPv6(vip) !== isIPv6(ip)) {
        issues.push({ path, message: `${formatAddress(m.address)} is ${isIPv6(ip) ? 'IPv6' : 'IPv4'} but services.${name} (${s.mode}) has the ${isIPv6(vip) ? 'IPv6' : 'IPv4'} VIP ${vip}: the kernel translates within one family` });
      }
      if (s.mode === 'dsr' && m.address.port !== s.listen.port) {
        issues.push({ path, message: `services.${name} is dsr, which rewrites only MAC addresses: its members must listen on the service's port ${s.listen.port}, not ${m.address.port}` });
      }
    });
  }
  return issues;
}

/** What the kernel runs differently than the config says; validate prints these, start logs them. */
export function kernelNotes(config: Config): string[] {
  const notes: string[] = [];
  const pools = new Map<string, string[]>();
  for (const [name, s] of Object.entries(config.services)) {
    if (isKernelMode(s.mode)) pools.set(s.pool, [...(pools.get(s.pool) ?? []), `services.${name}`]);
  }
  for (const [poolName, users] of pools) {
    const pool = config.pools[poolName];
    if (pool === undefined) continue;
    const who = `(${users.join(', ')} ${users.length === 1 ? 'is' : 'are'} nat or dsr)`;
    const { note } = algorithm(pool.algorithm).kernel;
    if (note !== null) notes.push(`pools.${poolName}.algorithm: ${note} ${who}`);
    const limited = pool.members.findIndex((m) => m.maxConnections > 0);
    if (limited !== -1) notes.push(`pools.${poolName}.members[${limited}].max-connections: counted by furiwake every second, not by the kernel: a burst may pass it for that long, and there is no queue ${who}`);
  }
  return notes;
}

function isLiteral(host: string): boolean {
  return isIPv6(host) || /^\d+\.\d+\.\d+\.\d+$/.test(host);
}

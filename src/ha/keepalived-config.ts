// keepalived's config, generated from the `ha` section: the user never writes it. One VRRP
// instance per address family in use (keepalived runs IPv4 and IPv6 VIPs in separate instances),
// both in one sync group so that they move together. Every node starts as BACKUP and the election
// decides (keepalived's `nopreempt` needs BACKUP). Two checks make a node give the VIPs away:
// a track file furiwake writes (non-zero: unfit, or handed over by an operator) and a script that
// fails once the furiwake process is gone or its event loop has stopped beating (a heartbeat
// file it touches each second), so a furiwake killed with SIGKILL, or stalled, loses the VIPs even
// though its keepalived lives on. Both put the instances in FAULT, which releases the VIPs
// whether or not the peer preempts.

import { isIPv4, isIPv6 } from 'node:net';
import { canonicalIP, isWildcard } from '../config/address.ts';
import type { Config, HaConfig } from '../config/types.ts';

/** The names keepalived knows our instances by; the notify FIFO reports them. */
export const INSTANCE_NAMES = { 4: 'furiwake_4', 6: 'furiwake_6' } as const;

export interface KeepalivedPaths {
  /** the FIFO keepalived writes each state change to */
  fifo: string;
  /** the file furiwake writes 0 (fit) or 1 (unfit or handed over) to */
  trackFile: string;
  /** the script keepalived runs each second to see that furiwake is alive (aliveScript()) */
  aliveScript: string;
}

export interface RenderInput {
  ha: HaConfig;
  vips: readonly string[];
  paths: KeepalivedPaths;
  /** the device of a VIP not on `ha.interface` (vip-device.ts); the others go on `ha.interface` */
  devices?: ReadonlyMap<string, string>;
}

/**
 * A heartbeat older than this (whole seconds, as stat gives them) means furiwake's loop has stopped.
 * Generous on purpose: a dead furiwake is caught by `kill -0` within a second; this only catches a
 * loop that stopped turning, and one failed run gives the VIPs away, so a long GC pause or a big
 * reload (a 2 s stall could pass a 3 s limit, stat counting whole seconds) must not.
 */
export const HEARTBEAT_LIMIT = 8;

/**
 * The script behind keepalived's furiwake_alive check: it fails when furiwake's process is gone
 * (`kill -0`) or when the heartbeat file furiwake touches each second is more than
 * HEARTBEAT_LIMIT seconds old (its event loop is stalled: it serves nothing either).
 */
export function aliveScript(pid: number, heartbeat: string): string {
  quote(heartbeat);
  return ['#!/bin/sh',
    '# Written by furiwake: keepalived runs it each second; failing, it makes this node give the VIPs away.',
    `kill -0 ${pid} 2>/dev/null || exit 1`,
    `beat=$(stat -c %Y '${heartbeat}' 2>/dev/null) || exit 1`,
    `[ $(( $(date +%s) - beat )) -le ${HEARTBEAT_LIMIT} ]`,
    ''].join('\n');
}

/**
 * The VIPs of a config: `ha.vips` as written, or else every service listen address that is an IP
 * and neither a wildcard (it binds every address, there is nothing to move) nor loopback (it never
 * leaves the host), in the order the services come, each once.
 */
export function vipsOf(config: Config): string[] {
  if (config.ha === undefined) return [];
  if (config.ha.vips !== null) return [...config.ha.vips];
  const vips = new Set<string>();
  for (const service of Object.values(config.services)) {
    const ip = service.listen.ip ?? service.listen.host;
    if (!isIPv4(ip) && !isIPv6(ip)) continue;
    if (isWildcard(ip) || isLoopback(ip)) continue;
    vips.add(canonicalIP(ip));
  }
  return [...vips];
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || canonicalIP(ip) === '::1';
}

/** `advert_int` in seconds; VRRPv3 counts centiseconds, the config guarantees steps of 10 ms. */
export function advertSeconds(ms: number): string {
  const centis = Math.round(ms / 10);
  const whole = Math.floor(centis / 100);
  const rest = centis % 100;
  return rest === 0 ? String(whole) : `${whole}.${String(rest).padStart(2, '0').replace(/0$/, '')}`;
}

/** The config text; the VIPs are split by family, a family without VIPs gets no instance. */
export function renderKeepalivedConfig(input: RenderInput): string {
  const { ha, vips, paths, devices } = input;
  const families = ([4, 6] as const).map((family) => ({
    family,
    vips: vips.filter((ip) => (family === 4 ? isIPv4(ip) : isIPv6(ip))),
    peers: ha.peers.filter((ip) => (family === 4 ? isIPv4(ip) : isIPv6(ip))),
  })).filter((f) => f.vips.length > 0);

  const lines: string[] = [
    '# Written by furiwake from its `ha` section; it is rewritten on every start and reload.',
    'global_defs {',
    `  router_id furiwake_${ha.routerId}`,
    '  enable_script_security',
    '  script_user root',
    `  vrrp_notify_fifo ${quote(paths.fifo)}`,
    '  vrrp_version 3',
    '}',
    '',
    'track_file furiwake_fit {',
    `  file ${quote(paths.trackFile)}`,
    '  weight 0',
    '}',
    '',
    'vrrp_script furiwake_alive {',
    `  script ${quote(paths.aliveScript)}`,
    '  interval 1',
    '  timeout 1',
    '  rise 1',
    '  fall 1',
    '}',
  ];
  if (families.length > 1) {
    lines.push('', 'vrrp_sync_group furiwake {', '  group {');
    for (const f of families) lines.push(`    ${INSTANCE_NAMES[f.family]}`);
    lines.push('  }', '}');
  }
  for (const f of families) {
    lines.push(
      '',
      `vrrp_instance ${INSTANCE_NAMES[f.family]} {`,
      '  state BACKUP',
      `  interface ${ha.interface}`,
      `  virtual_router_id ${ha.routerId}`,
      `  priority ${ha.priority}`,
      `  advert_int ${advertSeconds(ha.advert)}`,
    );
    if (!ha.preempt) lines.push('  nopreempt');
    if (f.peers.length > 0) {
      lines.push('  unicast_peer {');
      for (const peer of f.peers) lines.push(`    ${peer}`);
      lines.push('  }');
    }
    lines.push('  virtual_ipaddress {');
    for (const ip of f.vips) lines.push(`    ${ip}/${f.family === 4 ? 32 : 128} dev ${devices?.get(ip) ?? ha.interface}`);
    lines.push(
      '  }',
      '  track_file {',
      '    furiwake_fit',
      '  }',
      '  track_script {',
      '    furiwake_alive',
      '  }',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * keepalived's (and the shell's) quoted string. The directory may come from FURIWAKE_RUN_DIR: only
 * an absolute path of characters that neither keepalived (comments, `$` parameters, blocks, `~`
 * sequences) nor the shell (the alive script) reads as syntax is written.
 */
function quote(text: string): string {
  if (!/^\/[A-Za-z0-9_./@:+=,-]*$/.test(text)) {
    throw new Error(`cannot write ${JSON.stringify(text)} into keepalived's config: the state directory must be an absolute path of letters, digits and _ . / @ : + = , - only`);
  }
  return `"${text}"`;
}

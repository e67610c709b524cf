// Rules of the `ha` section that span other keys, and what validate says of a pair that can run
// but may not do what the operator expects. Pure: the host (keepalived, the interface, the
// privilege) is src/ha/preflight.ts's.

import { isIP, isIPv4 } from 'node:net';
import { canonicalIP, formatAddress, isWildcard } from './address.ts';
import { overlaps } from './checks.ts';
import type { PathIssue } from './issues.ts';
import type { Config } from './types.ts';

/** keepalived's sample config uses 51: a pair that kept it may share it with another pair. */
const SAMPLE_ROUTER_ID = 51;

/**
 * The VIPs of a pair: `ha.vips` as written, or else every IP a service listens on that is neither
 * a wildcard (it binds every address: nothing to move) nor loopback (it never leaves the host),
 * in file order, each once. (src/ha/keepalived-config.ts vipsOf on the vrrp branch is the same rule.)
 */
export function haVips(config: Pick<Config, 'ha' | 'services'>): string[] {
  if (config.ha?.vips != null) return config.ha.vips;
  const vips: string[] = [];
  for (const service of Object.values(config.services)) {
    const ip = service.listen.ip ?? service.listen.host;
    if (isIP(ip) === 0 || isWildcard(ip) || isLoopback(ip)) continue;
    const canonical = canonicalIP(ip);
    if (!vips.includes(canonical)) vips.push(canonical);
  }
  return vips;
}

/** What keeps a pair from running at all: checked with the rest of the file, so start refuses it too. */
export function checkHa(config: Pick<Config, 'ha' | 'services' | 'admin'>): PathIssue[] {
  const ha = config.ha;
  if (ha === undefined) return [];
  const issues: PathIssue[] = [];
  // only a sync link: what VRRP needs (VIPs, peers of their family) does not apply
  const vips = ha.vrrp ? haVips(config) : [];
  // a hostname is resolved after these checks: its address may be the VIP
  const unresolved = Object.values(config.services).some((s) => isIP(s.listen.ip ?? s.listen.host) === 0);
  if (ha.vrrp && vips.length === 0 && !unresolved) {
    issues.push({ path: ['ha', 'vips'], message: 'no VIP to move: every service listens on a wildcard or loopback address; list the addresses the pair shares in ha.vips' });
  }
  // keepalived takes no zone index, and a VIP goes on ha.interface whatever a zone would say
  const zoned = (ip: string): string => `${ip} has a zone index (${ip.slice(ip.indexOf('%'))}): VIPs go on ha.interface and peers are reached through it; write the address alone`;
  if (ha.vips !== null) ha.vips.forEach((ip, i) => ip.includes('%') && issues.push({ path: ['ha', 'vips', i], message: zoned(ip) }));
  else for (const ip of vips) if (ip.includes('%')) issues.push({ path: ['ha', 'vips'], message: zoned(ip).replace(' has', ' (an address a service listens on) has') });
  ha.peers.forEach((ip, i) => ip.includes('%') && issues.push({ path: ['ha', 'peers', i], message: zoned(ip) }));
  // VRRP advertises over the VIPs' family: a unicast peer of the other family never hears them
  const families = new Set(vips.map(family));
  ha.peers.forEach((peer, i) => {
    if (families.size > 0 && !families.has(family(peer))) {
      const vipFamily = [...families].join(' and ');
      issues.push({ path: ['ha', 'peers', i], message: `${peer} is ${family(peer)} but the VIPs (${vips.join(', ')}) are ${vipFamily}: VRRP advertisements go to peers of the VIPs' family` });
    }
  });
  if (ha.sync !== null) {
    const listen = ha.sync.listen;
    // a node is known to its peers by its listen address: a wildcard names every node alike
    if (isWildcard(listen.ip ?? listen.host)) {
      issues.push({ path: ['ha', 'sync', 'listen'], message: `${formatAddress(listen)} listens on every address: give this node's own address (its peers know it by it, and two nodes must not share a name)` });
    }
    ha.sync.peers.forEach((peer, i) => {
      if ((peer.ip ?? peer.host) === (listen.ip ?? listen.host) && peer.port === listen.port) {
        issues.push({ path: ['ha', 'sync', 'peers', i], message: `${formatAddress(peer)} is this node's own sync.listen: list the other nodes' addresses` });
      }
    });
    for (const [name, service] of Object.entries(config.services)) {
      // the link is tcp: a udp service (or a nat or dsr one of protocol udp) leaves the port free
      if (service.mode === 'udp' || service.kernel?.protocol === 'udp' || !overlaps(service.listen, listen)) continue;
      issues.push({ path: ['ha', 'sync', 'listen'], message: `${formatAddress(listen)} is the listener of services.${name} (${formatAddress(service.listen)}): the replication link needs a port of its own` });
      break;
    }
    if (config.admin !== undefined && overlaps(config.admin.listen, listen)) {
      issues.push({ path: ['ha', 'sync', 'listen'], message: `${formatAddress(listen)} is the admin listener (${formatAddress(config.admin.listen)}): the replication link needs a port of its own` });
    }
  }
  return issues;
}

/** What validate says of a pair that runs but may surprise: each line names its key. */
export function haNotes(config: Pick<Config, 'ha' | 'services'>): string[] {
  const ha = config.ha;
  if (ha === undefined) return [];
  const notes: string[] = [];
  if (!ha.vrrp) {
    notes.push('ha: no interface and router-id: furiwake runs no VRRP and moves no address; only the sync link runs (something else must move the VIPs)');
    return notes;
  }
  if (ha.advert < 1_000) {
    notes.push(`ha.advert: ${ha.advert}ms needs VRRP version 3 on every node of the pair (version 2 counts whole seconds): a peer that is not furiwake must run keepalived with vrrp_version 3 and the same interval`);
  }
  if (ha.routerId === SAMPLE_ROUTER_ID) {
    notes.push(`ha.router-id: ${SAMPLE_ROUTER_ID} is the value of keepalived's sample config; every pair on the segment of ${ha.interface} needs its own router-id, or the pairs take each other's VIPs (see who uses it: tcpdump -i ${ha.interface} vrrp)`);
  }
  const vips = haVips(config);
  for (const [name, service] of Object.entries(config.services)) {
    const ip = service.listen.ip ?? service.listen.host;
    if (isIP(ip) === 0 || isWildcard(ip) || isLoopback(ip) || vips.includes(canonicalIP(ip))) continue;
    notes.push(`services.${name}.listen: ${ip} is not one of ha.vips: it does not move to the peer at failover`);
  }
  return notes;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || canonicalIP(ip) === '::1';
}

function family(ip: string): 'IPv4' | 'IPv6' {
  return isIPv4(ip) ? 'IPv4' : 'IPv6';
}

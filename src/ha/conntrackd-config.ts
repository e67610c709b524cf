// conntrackd's configuration for kernel connection sync, as text: FTFW (reliable, acknowledged)
// over UDP unicast to the peer, or IPv4 multicast when no peer address is known, on the
// interface VRRP runs on. Only the nat and dsr services' connections are synced: conntrackd's
// address filter tests each entry's original source and its reply source (for a nat connection:
// the client and the member), so the VIPs and the member addresses are listed. Everything lives
// in a private state dir (lock file, control socket), so several conntrackd can run on one host
// (one per network namespace), and nothing relies on systemd or syslog. Pure: input in, text out.

import { isIP } from 'node:net';
import { join } from 'node:path';
import { canonicalIP, isWildcard } from '../config/address.ts';
import type { HaConfig } from '../config/ha-types.ts';
import type { Config } from '../config/types.ts';

/** conntrackd's default multicast group (its example configuration's), used only without a peer address. */
export const MULTICAST_GROUP = '225.0.0.50';
/** a unix socket path longer than this does not fit in sockaddr_un (108 bytes with the NUL) */
const MAX_SOCKET_PATH = 107;

export interface ConntrackdConfigInput {
  /** private directory for the lock file and the control socket */
  stateDir: string;
  /** the interface the updates go out on (ha.interface) */
  interface: string;
  /** UDP port of the updates (ha.conntrack-sync.port); the multicast group's number without a peer */
  port: number;
  /** this node's own address on the interface, of the peer's family (the updates' source) */
  local: string;
  /** the peer's address; null: IPv4 multicast to MULTICAST_GROUP */
  peer: string | null;
  /** connections from, or answered by, these addresses are synced: the VIPs and the members */
  addresses: readonly string[];
}

/** The lock file and the control socket of a conntrackd whose state dir is `stateDir`. */
export function conntrackdPaths(stateDir: string): { lock: string; socket: string } {
  return { lock: join(stateDir, 'conntrackd.lock'), socket: join(stateDir, 'conntrackd.ctl') };
}

/**
 * The text of conntrackd.conf. Throws on input no config check lets through (an address that is
 * not an IP literal, a peer of the other family, a state dir too long for a unix socket): the
 * text must never carry anything but what it was given.
 */
export function renderConntrackdConfig(input: ConntrackdConfigInput): string {
  const family = isIP(input.local);
  if (family === 0) throw new Error(`conntrack sync: ${JSON.stringify(input.local)} is not an IP address`);
  if (input.peer !== null && isIP(input.peer) !== family) throw new Error(`conntrack sync: the peer ${JSON.stringify(input.peer)} is not an IPv${family} address like ${input.local}`);
  if (input.peer === null && family !== 4) throw new Error('conntrack sync: without a peer address updates go to an IPv4 multicast group, but this node\'s address is IPv6');
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(input.interface)) throw new Error(`conntrack sync: ${JSON.stringify(input.interface)} is not an interface name`);
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65_535) throw new Error(`conntrack sync: ${input.port} is not a port`);
  const paths = conntrackdPaths(input.stateDir);
  // conntrackd's parser reads a path as one word: no blanks, quotes or braces
  if (!/^\/[^\s"'{}#]*$/.test(input.stateDir) || paths.socket.length > MAX_SOCKET_PATH) {
    throw new Error(`conntrack sync: the state dir ${JSON.stringify(input.stateDir)} must be an absolute path of at most ${MAX_SOCKET_PATH - 15} characters without blanks`);
  }
  const v = `IPv${family}`;
  const channel = input.peer === null
    ? [
        '\tMulticast {',
        `\t\tIPv4_address ${MULTICAST_GROUP}`,
        `\t\tGroup ${input.port}`,
        `\t\tIPv4_interface ${input.local}`,
        ...link(input.interface),
        '\t}',
      ]
    : [
        '\tUDP {',
        `\t\t${v}_address ${input.local}`,
        `\t\t${v}_Destination_Address ${input.peer}`,
        `\t\tPort ${input.port}`,
        ...link(input.interface),
        '\t}',
      ];
  const addresses = [...new Set(input.addresses.map((a) => {
    if (isIP(a) === 0) throw new Error(`conntrack sync: ${JSON.stringify(a)} is not an IP address`);
    return canonicalIP(a);
  }))];
  return [
    '# written by furiwake for kernel connection sync; furiwake rewrites it at every start',
    'Sync {',
    '\tMode FTFW {',
    // the backup keeps what the master sends in its external cache until it becomes master
    '\t\tDisableExternalCache off',
    '\t}',
    ...channel,
    '}',
    'General {',
    '\tSystemd off',
    '\tLogFile off',
    '\tSyslog off',
    '\tHashSize 32768',
    '\tHashLimit 131072',
    `\tLockFile ${paths.lock}`,
    '\tUNIX {',
    `\t\tPath ${paths.socket}`,
    '\t}',
    '\tNetlinkBufferSize 2097152',
    '\tNetlinkBufferSizeMaxGrowth 8388608',
    // a lost event (buffer overrun) is repaired by a resync from the kernel table
    '\tNetlinkOverrunResync on',
    '\tFilter From Userspace {',
    '\t\tProtocol Accept {',
    '\t\t\tTCP',
    '\t\t\tUDP',
    '\t\t}',
    '\t\tAddress Accept {',
    ...addresses.map((a) => `\t\t\tIPv${isIP(a)}_address ${a}`),
    '\t\t}',
    // connections still opening are not worth an update: one that is not established yet
    // cannot be continued by the peer anyway
    '\t\tState Accept {',
    '\t\t\tESTABLISHED CLOSED TIME_WAIT CLOSE_WAIT for TCP',
    '\t\t}',
    '\t}',
    '}',
    '',
  ].join('\n');
}

function link(iface: string): string[] {
  return [`\t\tInterface ${iface}`, '\t\tSndSocketBuffer 1249280', '\t\tRcvSocketBuffer 1249280', '\t\tChecksum on'];
}

/**
 * The addresses whose connections are synced: every nat and dsr service's listen address (the
 * VIP) and the members of their pools; empty when no nat or dsr service runs (then conntrackd is
 * not started at all). Member hosts that are names count by their resolved address.
 */
export function syncedAddresses(config: Pick<Config, 'services' | 'pools'>): string[] {
  const out = new Set<string>();
  for (const service of Object.values(config.services)) {
    if (service.mode !== 'nat' && service.mode !== 'dsr') continue;
    const vip = service.listen.ip ?? service.listen.host;
    if (isIP(vip) !== 0 && !isWildcard(vip)) out.add(canonicalIP(vip));
    for (const member of config.pools[service.pool]?.members ?? []) {
      const ip = member.address.ip ?? member.address.host;
      if (isIP(ip) !== 0) out.add(canonicalIP(ip));
    }
  }
  return [...out];
}

/**
 * The peer conntrackd sends to: the first unicast VRRP peer, else the host of the first sync
 * peer when it is an IP literal; null (multicast) when neither is known. conntrackd syncs a
 * pair: with several peers it would send over one link at a time, so only the first is used.
 */
export function conntrackPeer(ha: Pick<HaConfig, 'peers' | 'sync'>): string | null {
  if (ha.peers.length > 0) return ha.peers[0];
  const first = ha.sync?.peers[0];
  if (first === undefined) return null;
  const ip = first.ip ?? first.host;
  return isIP(ip) === 0 ? null : canonicalIP(ip);
}

// Reading what a raw ICMP socket receives, field by field: the IPv4 header (version, header
// length, protocol, total length), the ICMP checksum, type and code, and for errors the quoted
// request (its IP header and our echo's identifier/sequence). Pure: no socket, no throw.

import { ipText } from './proto-ip.ts';

export type IcmpEvent =
  | { kind: 'reply'; id: number; seq: number }
  /** an error quoting our echo request to `destination` */
  | { kind: 'error'; reason: string; id: number; seq: number; destination: string };

const ICMP = 1;
const ICMPV6 = 58;

/** The Internet checksum (RFC 1071) of `buf`; 0 over a message whose checksum field is right. */
export function internetChecksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (buf.length % 2 === 1) sum += buf[buf.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The IPv4 header's length when `ip` starts with a sound IPv4 header carrying `protocol`; -1 otherwise. */
function ipv4Header(ip: Buffer, protocol: number, quoted: boolean): number {
  if (ip.length < 20 || ip[0] >> 4 !== 4) return -1;
  const ihl = (ip[0] & 0x0f) * 4;
  if (ihl < 20 || ihl > ip.length || ip[9] !== protocol) return -1;
  // a quoted header says how long the original datagram was, not what was quoted
  if (!quoted && ip.readUInt16BE(2) < ihl) return -1;
  return ihl;
}

/** An IPv4 datagram from the raw ICMP socket: an echo reply, an error quoting an echo request, or null. */
export function readIcmp4(packet: Buffer): IcmpEvent | null {
  const ihl = ipv4Header(packet, ICMP, false);
  if (ihl < 0) return null;
  const total = packet.readUInt16BE(2);
  if (total > packet.length) return null;
  const icmp = packet.subarray(ihl, total);
  if (icmp.length < 8 || internetChecksum(icmp) !== 0) return null;
  const reason = replyOrReason(icmp, 0, ERRORS4);
  if (typeof reason !== 'string') return reason;
  // the error quotes our request: its IP header, then at least 8 bytes of our ICMP header
  const quoted = icmp.subarray(8);
  const qihl = ipv4Header(quoted, ICMP, true);
  if (qihl < 0) return null;
  const request = quoted.subarray(qihl);
  if (request.length < 8 || request[0] !== 8 || request[1] !== 0) return null;
  return { kind: 'error', reason, id: request.readUInt16BE(4), seq: request.readUInt16BE(6), destination: ipText(quoted.subarray(16, 20)) };
}

/** An ICMPv6 message (the kernel checked its checksum and took the IPv6 header off). */
export function readIcmp6(icmp: Buffer): IcmpEvent | null {
  if (icmp.length < 8) return null;
  const reason = replyOrReason(icmp, 129, ERRORS6);
  if (typeof reason !== 'string') return reason;
  // quoted: our IPv6 header (40 bytes, next header ICMPv6), then our echo request
  const quoted = icmp.subarray(8);
  if (quoted.length < 48 || quoted[0] >> 4 !== 6 || quoted[6] !== ICMPV6 || quoted[40] !== 128 || quoted[41] !== 0) return null;
  return { kind: 'error', reason, id: quoted.readUInt16BE(44), seq: quoted.readUInt16BE(46), destination: ipText(quoted.subarray(24, 40)) };
}

/**
 * The ICMP errors that end a check, by type: one reason for the type, or one per code (a code not
 * listed reads as the type's name and the code). Types not listed (redirects, ...) end nothing.
 */
type ErrorReasons = Record<number, string | { name: string; codes: Record<number, string> }>;

const UNREACHABLE4: Record<number, string> = {
  0: 'ICMP network unreachable',
  1: 'ICMP host unreachable',
  2: 'ICMP protocol unreachable',
  3: 'ICMP port unreachable',
  4: 'ICMP fragmentation needed',
  5: 'ICMP source route failed',
  6: 'ICMP destination network unknown',
  7: 'ICMP destination host unknown',
  8: 'ICMP source host isolated',
  9: 'ICMP network administratively prohibited',
  10: 'ICMP host administratively prohibited',
  11: 'ICMP network unreachable for TOS',
  12: 'ICMP host unreachable for TOS',
  13: 'ICMP communication administratively prohibited',
  14: 'ICMP host precedence violation',
  15: 'ICMP precedence cutoff in effect',
};

const UNREACHABLE6: Record<number, string> = {
  0: 'ICMPv6 no route to destination',
  1: 'ICMPv6 communication administratively prohibited',
  2: 'ICMPv6 beyond scope of source address',
  3: 'ICMPv6 address unreachable',
  4: 'ICMPv6 port unreachable',
  5: 'ICMPv6 source address failed ingress/egress policy',
  6: 'ICMPv6 reject route to destination',
};

const ERRORS4: ErrorReasons = {
  3: { name: 'ICMP destination unreachable', codes: UNREACHABLE4 },
  11: { name: 'ICMP time exceeded', codes: { 0: 'ICMP time exceeded (TTL expired in transit)', 1: 'ICMP fragment reassembly time exceeded' } },
  12: 'ICMP parameter problem',
};

const ERRORS6: ErrorReasons = {
  1: { name: 'ICMPv6 destination unreachable', codes: UNREACHABLE6 },
  2: 'ICMPv6 packet too big',
  3: { name: 'ICMPv6 time exceeded', codes: { 0: 'ICMPv6 hop limit exceeded in transit', 1: 'ICMPv6 fragment reassembly time exceeded' } },
  4: 'ICMPv6 parameter problem',
};

/**
 * What an ICMP message (either family) starts with: an echo reply (`replyType`, code 0), the reason
 * of an error that ends a check (the caller reads the request it quotes), or null for the rest.
 */
function replyOrReason(icmp: Buffer, replyType: number, errors: ErrorReasons): IcmpEvent | string | null {
  const type = icmp[0];
  const code = icmp[1];
  if (type === replyType) return code === 0 ? { kind: 'reply', id: icmp.readUInt16BE(4), seq: icmp.readUInt16BE(6) } : null;
  return errorReason(errors, type, code);
}

/** The reason for an ICMP error that ends a check; null for messages that do not. */
function errorReason(reasons: ErrorReasons, type: number, code: number): string | null {
  const reason = reasons[type];
  if (reason === undefined) return null;
  if (typeof reason === 'string') return reason;
  return reason.codes[code] ?? `${reason.name} (code ${code})`;
}

// IP addresses as bytes, so two spellings of one address ('::1', '0:0::1', '::ffff:127.0.0.1')
// compare equal: reply source addresses, DNS AAAA answers.

import { formatIPv4, formatIPv6, isMapped, readAddress } from '../../ip-text.ts';

/** 4 bytes for IPv4, 16 for IPv6 (an IPv4-mapped IPv6 address gives its 4 IPv4 bytes); null if not an IP. */
export function ipBytes(ip: string): Buffer | null {
  const zone = ip.indexOf('%'); // a link-local zone (fe80::1%eth0) names an interface, not bytes
  const bytes = Buffer.alloc(16);
  if (!readAddress(zone >= 0 ? ip.slice(0, zone) : ip, bytes, 0)) return null;
  return isMapped(bytes, 0) ? bytes.subarray(12) : bytes;
}

export function sameAddress(a: string, b: string): boolean {
  const x = ipBytes(a);
  const y = ipBytes(b);
  return x !== null && y !== null && x.equals(y);
}

/** 'ipv4' or 'ipv6' by what is actually used on the wire (IPv4-mapped IPv6 is IPv4). */
export function wireFamily(ip: string): 4 | 6 | 0 {
  const bytes = ipBytes(ip);
  return bytes === null ? 0 : bytes.length === 4 ? 4 : 6;
}

/** The bytes back to text: dotted for 4 bytes, RFC 5952 compressed for 16. */
export function ipText(bytes: Buffer): string {
  return bytes.length === 4 ? formatIPv4(bytes, 0) : formatIPv6(bytes, 0);
}

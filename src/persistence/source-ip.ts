// source-ip persistence: the key is the client's address masked to a network, so every client
// of one network (or one address, with the full mask) sticks to one member. An IPv4 client seen
// through a dual-stack socket (::ffff:192.0.2.1) is the IPv4 client it is.

import ipaddr from 'ipaddr.js';

export interface SourceMask {
  /** IPv4 prefix length, 0..32 */
  mask: number;
  /** IPv6 prefix length, 0..128 */
  mask6: number;
}

/**
 * The stick-table key of a client address: the address itself under the full mask
 * (`192.0.2.7`, `2001:db8::7`), else its network with the prefix length (`192.0.2.0/24`,
 * `2001:db8::/64`). null for text that is not an IP address.
 */
export function sourceKey(address: string, masks: SourceMask): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // process() turns an IPv4-mapped IPv6 address into the IPv4 address.
    ip = ipaddr.process(address);
  } catch {
    return null;
  }
  const bits = ip.kind() === 'ipv4' ? masks.mask : masks.mask6;
  const width = ip.kind() === 'ipv4' ? 32 : 128;
  if (bits >= width) return ip.toString();
  return `${maskBytes(ip, bits).toString()}/${bits}`;
}

function maskBytes(ip: ipaddr.IPv4 | ipaddr.IPv6, bits: number): ipaddr.IPv4 | ipaddr.IPv6 {
  const bytes = ip.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return ipaddr.fromByteArray(bytes);
}

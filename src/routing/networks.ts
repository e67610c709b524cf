// Client networks (CIDR, IPv4 and IPv6) as 16 bytes and a prefix length, IPv4 as ::ffff:a.b.c.d
// so that one comparison serves both families. The client's address is read into bytes once per
// request, only when a route to try has a client-network condition. An IPv4 client is in IPv4
// networks only (a.b.c.d/n, or ::ffff:a.b.c.d/96+n), as access lists read them: ::/0 is every
// IPv6 client, not every client.

import { isMapped, readAddress } from '../ip-text.ts';

export interface Network {
  bytes: Uint8Array;
  /** prefix length over the 16 bytes (an IPv4 /8 is 104) */
  bits: number;
  /** an IPv4 network (::ffff:0:0/96 or longer): it holds IPv4 clients only, and only it does */
  v4: boolean;
}

/** A canonical CIDR as the config normalizes it (`10.0.0.0/8`, `2001:db8::/32`). */
export function parseNetwork(cidr: string): Network {
  const slash = cidr.lastIndexOf('/');
  const bytes = new Uint8Array(16);
  const address = cidr.slice(0, slash);
  if (!readAddress(address, bytes, 0)) throw new Error(`not a network: ${cidr}`);
  const bits = Number(cidr.slice(slash + 1)) + (address.includes(':') ? 0 : 96);
  return { bytes, bits, v4: bits >= 96 && isMapped(bytes, 0) };
}

/** Whether the 16 bytes of `address` are in one of `networks`. */
export function inNetworks(address: Uint8Array, networks: readonly Network[]): boolean {
  const v4 = isMapped(address, 0);
  for (const net of networks) if (net.v4 === v4 && inNetwork(address, net)) return true;
  return false;
}

function inNetwork(address: Uint8Array, net: Network): boolean {
  const whole = net.bits >>> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== net.bytes[i]) return false;
  const rest = net.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[whole] & mask) === (net.bytes[whole] & mask);
}

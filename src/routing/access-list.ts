// An access list (`access: { allow, deny }`) compiled once per config into lookups that cost no
// allocation per client: IPv4 networks (and IPv4 clients seen as ::ffff:a.b.c.d) by one Set
// lookup per distinct prefix length, IPv6 networks by comparing bytes. Deny wins over allow; an
// empty allow list lets in every client that is not denied. An address that cannot be read
// (a unix socket's '') is let in only when the list has no allow (it cannot be in a denied network).
// An IPv4 client is matched against IPv4 networks only (written a.b.c.d/n or ::ffff:a.b.c.d/96+n).

import type { AccessConfig } from '../config/access-types.ts';
import { isMapped, readAddress } from '../ip-text.ts';
import { inNetworks, type Network, parseNetwork } from './networks.ts';

/** Networks of one list: IPv4 by prefix length, the others as they are. */
class NetworkSet {
  /** [prefix length, masked IPv4 addresses as unsigned 32-bit numbers], longest first */
  readonly #v4: readonly [number, ReadonlySet<number>][];
  readonly #v6: readonly Network[];
  readonly size: number;

  constructor(cidrs: readonly string[]) {
    const byLength = new Map<number, Set<number>>();
    const v6: Network[] = [];
    for (const cidr of cidrs) {
      const net = parseNetwork(cidr);
      if (net.bits >= 96 && isMapped(net.bytes, 0)) {
        const length = net.bits - 96;
        let set = byLength.get(length);
        if (set === undefined) byLength.set(length, (set = new Set()));
        set.add(masked(ipv4(net.bytes), length));
      } else {
        v6.push(net);
      }
    }
    this.#v4 = [...byLength].sort((a, b) => b[0] - a[0]);
    this.#v6 = v6;
    this.size = cidrs.length;
  }

  /** Whether the 16 bytes `address` (IPv4 mapped, `v4` its 32 bits then) are in one of the networks. */
  has(address: Uint8Array, v4: number): boolean {
    if (v4 !== -1) for (const [length, set] of this.#v4) if (set.has(masked(v4, length))) return true;
    // an IPv4 client is in IPv4 networks only (::/0 is every IPv6 client, not every client)
    return v4 === -1 && this.#v6.length > 0 && inNetworks(address, this.#v6);
  }
}

function ipv4(b: Uint8Array): number {
  return ((b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15]) >>> 0;
}

function masked(v4: number, length: number): number {
  return length === 0 ? 0 : (v4 & (0xffffffff << (32 - length))) >>> 0;
}

export class AccessList {
  readonly #allow: NetworkSet;
  readonly #deny: NetworkSet;
  /** the client's bytes, refilled per question (a list serves one thread, one question at a time) */
  readonly #bytes = new Uint8Array(16);

  constructor(config: AccessConfig) {
    this.#allow = new NetworkSet(config.allow);
    this.#deny = new NetworkSet(config.deny);
  }

  /** Whether a client at `address` (text, as a socket or X-Forwarded-For gives it) may come in. */
  allows(address: string): boolean {
    const bytes = this.#bytes;
    if (!readAddress(address, bytes, 0)) return this.#allow.size === 0;
    const v4 = isMapped(bytes, 0) ? ipv4(bytes) : -1;
    if (this.#deny.size > 0 && this.#deny.has(bytes, v4)) return false;
    return this.#allow.size === 0 || this.#allow.has(bytes, v4);
  }
}

/** The compiled list of a service's or route's `access`; null when it has none. */
export function accessList(config: AccessConfig | null): AccessList | null {
  return config === null ? null : new AccessList(config);
}

// Who the client is when the request came through proxies furiwake trusts: HAProxy's and
// nginx's real-IP rule. From the right of X-Forwarded-For, skip every address that is itself a
// trusted proxy; the first one that is not is the client. A request from an untrusted peer is
// from that peer, whatever its headers say, so no client can choose its own persistence key.

import ipaddr from 'ipaddr.js';
import { canonicalIP } from '../../ip-text.ts';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** The most X-Forwarded-For entries looked at; a longer chain is cut, not parsed. */
const MAX_HOPS = 32;

export class TrustedProxies {
  readonly #ranges: Range[];

  constructor(cidrs: readonly string[]) {
    this.#ranges = cidrs.map((c) => ipaddr.parseCIDR(c));
  }

  get empty(): boolean {
    return this.#ranges.length === 0;
  }

  trusts(address: string): boolean {
    let addr: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      addr = ipaddr.process(address); // IPv4-mapped IPv6 becomes IPv4
    } catch {
      return false;
    }
    for (const [range, bits] of this.#ranges) {
      if (range.kind() === addr.kind() && addr.match(range, bits)) return true;
    }
    return false;
  }

  /** The client of a request from `peer` carrying `forwardedFor` (all X-Forwarded-For values, comma-joined). */
  clientOf(peer: string, forwardedFor: string | undefined): string {
    if (forwardedFor === undefined || !this.trusts(peer)) return peer;
    const hops = forwardedFor.split(',');
    let client = peer;
    for (let i = hops.length - 1, seen = 0; i >= 0 && seen < MAX_HOPS; i--, seen++) {
      const hop = hops[i].trim();
      if (!ipaddr.isValid(hop)) return client; // garbage ends the chain at the last good hop
      client = ipaddr.process(hop).toString();
      if (!this.trusts(client)) return client;
    }
    return client;
  }
}

/**
 * The client's address as furiwake writes it toward a member (X-Forwarded-For, Forwarded): the
 * canonical text of a valid IP address (an IPv4-mapped one as its IPv4), made from its parsed
 * bytes, or RFC 7239's `unknown` for anything else. Whatever the address came from (a socket, a
 * PROXY header), no other byte can reach a member's header this way.
 */
export function forwardedAddress(address: string): string {
  return canonicalIP(address) ?? 'unknown';
}

const byConfig = new WeakMap<readonly string[], TrustedProxies>();

/** One TrustedProxies per config list, made on first use (a reload brings a new list). */
export function trustedProxies(cidrs: readonly string[]): TrustedProxies {
  let trusted = byConfig.get(cidrs);
  if (trusted === undefined) byConfig.set(cidrs, (trusted = new TrustedProxies(cidrs)));
  return trusted;
}

// Which routes a host allows, by one map lookup: each exact name and each wildcard suffix maps to
// the routes it satisfies — its own, the wildcards that also cover it, and the routes with no
// host list (those test a host-regex, if any, one by one).

import { type Bits, copyBits, emptyBits, orInto, setBit } from './bits.ts';
import { longestSuffix } from './host-key.ts';

export class HostIndex {
  readonly #exact = new Map<string, Bits>();
  /** `.example.com` for `*.example.com` */
  readonly #suffixes = new Map<string, Bits>();
  /** routes without a host list */
  readonly #any: Bits;

  /** `hosts[i]`: route i's names (exact or `*.` wildcards); empty: any host. */
  constructor(hosts: readonly (readonly string[])[]) {
    const n = hosts.length;
    const any = (this.#any = emptyBits(n));
    const own = new Map<string, Bits>();
    const wild = new Map<string, Bits>();
    hosts.forEach((names, i) => {
      if (names.length === 0) return setBit(any, i);
      for (const name of names) {
        const [map, key] = name.startsWith('*.') ? [wild, name.slice(1)] : [own, name];
        let bits = map.get(key);
        if (bits === undefined) map.set(key, (bits = emptyBits(n)));
        setBit(bits, i);
      }
    });
    // a wildcard's set includes the wider wildcards that also cover every name it covers
    for (const [suffix, bits] of wild) {
      const all = copyBits(bits);
      orInto(all, any);
      for (const [other, more] of wild) if (other !== suffix && suffix.endsWith(other)) orInto(all, more);
      this.#suffixes.set(suffix, all);
    }
    for (const [name, bits] of own) {
      const all = copyBits(bits);
      orInto(all, longestSuffix(name, this.#suffixes) ?? any);
      this.#exact.set(name, all);
    }
  }

  /** The routes that `host` (lowercase, no port; '' for none) allows. */
  lookup(host: string): Bits {
    return this.#exact.get(host) ?? longestSuffix(host, this.#suffixes) ?? this.#any;
  }
}

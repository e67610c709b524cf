// The scan Pool.acquireByHash made before its tree (weighted-hash.ts), as the tests' reference:
// members laid end to end by weight, primaries first, the one under `hash % total`.

import type { Member } from '../../src/runtime/member.ts';

/** The member the scan chooses; undefined for none. */
export function scan(members: readonly Member[], hash: number, skip: readonly Member[] | null): Member | undefined {
  for (const backup of [false, true]) {
    const eligible = members.filter((m) => m.backup === backup && m.usable && m.weight > 0 && !(skip ?? []).includes(m));
    const total = eligible.reduce((sum, m) => sum + m.weight, 0);
    if (total === 0) continue;
    let at = (hash >>> 0) % total;
    for (const m of eligible) {
      if (at < m.weight) return m;
      at -= m.weight;
    }
  }
  return undefined;
}

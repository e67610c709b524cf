// Source hash, map-based (HAProxy's lb_map): a slot array where each candidate holds as many
// slots as its weight, and a key goes to slot `hash % slots`. Cheap and exact in proportion,
// but when the membership or a weight changes most keys move (maglev avoids that).
// An unusable or skipped member keeps its slots; its keys are re-hashed (see lookup-table.ts).

import type { Algorithm } from './algorithm.ts';
import type { Balancer, Candidate } from './balancer.ts';
import { lookup, Membership } from './lookup-table.ts';

export class SourceHash<T extends Candidate> implements Balancer<T> {
  readonly algorithm = 'source-hash';
  #candidates: readonly T[] = [];
  /** candidate index per slot */
  #slots: Int32Array = new Int32Array(0);
  readonly #membership = new Membership();

  constructor(candidates: readonly T[]) {
    this.update(candidates);
  }

  update(candidates: readonly T[]): void {
    this.#candidates = candidates.slice();
    if (this.#membership.changed(candidates)) this.#slots = buildSlots(candidates);
  }

  /** State is read live. */
  changed(_candidate: T): void {}

  pick(hash: number, skip: readonly T[] | null): T | undefined {
    return lookup(this.#slots, this.#candidates, hash, skip);
  }
}

/** Weights rounded to whole slots (any positive weight gets one), divided by their gcd. */
export function buildSlots(candidates: readonly Candidate[]): Int32Array {
  const counts = candidates.map((c) => (c.weight > 0 ? Math.max(1, Math.round(c.weight)) : 0));
  const divisor = counts.reduce(gcd, 0) || 1;
  const total = counts.reduce((sum, count) => sum + count / divisor, 0);
  const slots = new Int32Array(total);
  let next = 0;
  // Contiguous runs are fine: the key hashes are uniform, so only the run lengths matter.
  for (let i = 0; i < counts.length; i++) {
    slots.fill(i, next, next + counts[i] / divisor);
    next += counts[i] / divisor;
  }
  return slots;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export const sourceHash: Algorithm<'source-hash'> = {
  name: 'source-hash', create: (candidates) => new SourceHash(candidates),
  usesHash: true, weighted: true, rebuildsOnWeight: true,
  kernel: { method: 'source-hash', note: null },
};

// Maglev consistent hashing (Eisenbud et al., NSDI 2016). Each candidate derives from its id a
// permutation of the table's entries (offset + j * skip mod a prime size); candidates take turns
// claiming their next unclaimed preferred entry until the table is full. Heavier candidates take
// proportionally more turns. Because preferences come from ids, a membership change moves few
// keys; an unusable member keeps its entries and only its own ~1/N of keys look elsewhere.

import type { Algorithm } from './algorithm.ts';
import type { Balancer, Candidate } from './balancer.ts';
import { hashString, mix32 } from './hash.ts';
import { lookup, Membership } from './lookup-table.ts';

/** The paper's small table size: prime, and ~65x the entries of a 1000-member pool. */
export const MAGLEV_TABLE_SIZE = 65537;

export interface MaglevOptions {
  /** a prime; larger spreads keys more evenly and costs more to build (default 65537) */
  tableSize?: number;
}

export class Maglev<T extends Candidate> implements Balancer<T> {
  readonly algorithm = 'maglev';
  #candidates: readonly T[] = [];
  /** candidate index per entry */
  #table: Int32Array = new Int32Array(0);
  readonly #size: number;
  readonly #membership = new Membership();

  constructor(candidates: readonly T[], options: MaglevOptions = {}) {
    this.#size = options.tableSize ?? MAGLEV_TABLE_SIZE;
    if (!isPrime(this.#size)) throw new RangeError(`maglev table size must be prime, got ${this.#size}`);
    this.update(candidates);
  }

  update(candidates: readonly T[]): void {
    this.#candidates = candidates.slice();
    if (this.#membership.changed(candidates)) this.#table = buildTable(candidates, this.#size);
  }

  /** State is read live. */
  changed(_candidate: T): void {}

  pick(hash: number, skip: readonly T[] | null): T | undefined {
    return lookup(this.#table, this.#candidates, hash, skip);
  }

  /** Entries per candidate, by index: how evenly (and how weighted) the table came out. */
  shares(): number[] {
    const counts = new Array<number>(this.#candidates.length).fill(0);
    for (const index of this.#table) counts[index]++;
    return counts;
  }
}

/** The lookup table over all candidates with weight > 0; empty when there are none. */
export function buildTable(candidates: readonly Candidate[], size: number): Int32Array {
  // Turns go in id order, so the table does not depend on the order of the list.
  const order = candidates
    .map((c, index) => ({ id: c.id, weight: c.weight, index }))
    .filter((c) => c.weight > 0)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.index - b.index));
  if (order.length === 0) return new Int32Array(0);

  const maxWeight = Math.max(...order.map((c) => c.weight));
  const position = order.map((c) => hashString(c.id) % size);
  const skip = order.map((c) => (mix32(hashString(c.id) ^ 0x5bd1e995) % (size - 1)) + 1);
  const credit = new Float64Array(order.length);
  const table = new Int32Array(size).fill(-1);

  let filled = 0;
  for (;;) {
    for (let k = 0; k < order.length; k++) {
      // The heaviest member takes one turn per round, the others weight/max of one.
      credit[k] += order[k].weight / maxWeight;
      while (credit[k] >= 1) {
        credit[k] -= 1;
        // Walk this member's permutation to its next unclaimed entry. size is prime and
        // 0 < skip < size, so the walk visits every entry.
        while (table[position[k]] >= 0) position[k] = (position[k] + skip[k]) % size;
        table[position[k]] = order[k].index;
        if (++filled === size) return table;
      }
    }
  }
}

function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

export const maglev: Algorithm<'maglev'> = {
  name: 'maglev', create: (candidates) => new Maglev(candidates),
  usesHash: true, weighted: true, rebuildsOnWeight: true,
  kernel: { method: 'maglev', note: null },
};

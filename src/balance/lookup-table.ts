// What the table-based hashing algorithms (source-hash, maglev) share. Their table holds a
// candidate index per entry and is built over ALL candidates, usable or not, so a member going
// down changes no entry: only the keys that landed on it look further, and they come back to it
// when it returns.

import type { Candidate } from './balancer.ts';
import { isWeightedEligible } from './eligible.ts';
import { rehash } from './hash.ts';

/** Re-hash probes before the linear scan; with half the members down, 16 misses is ~1.5e-5. */
const PROBES = 16;

/**
 * The candidate for `hash`: its own entry if eligible; else the first eligible entry among
 * deterministic re-hashes of the key, so a down member's keys spread over the others in
 * proportion to their share of the table; else the first eligible candidate after the last one
 * probed. Same key and same state give the same answer.
 */
export function lookup<T extends Candidate>(
  table: Int32Array,
  candidates: readonly T[],
  hash: number,
  skip: readonly T[] | null,
): T | undefined {
  const size = table.length;
  if (size === 0) return undefined;
  let index = table[(hash >>> 0) % size];
  if (isWeightedEligible(candidates[index], skip)) return candidates[index];
  for (let attempt = 1; attempt <= PROBES; attempt++) {
    index = table[rehash(hash, attempt) % size];
    if (isWeightedEligible(candidates[index], skip)) return candidates[index];
  }
  const n = candidates.length;
  for (let k = 1; k < n; k++) {
    let i = index + k;
    if (i >= n) i -= n;
    if (isWeightedEligible(candidates[i], skip)) return candidates[i];
  }
  return undefined;
}

/**
 * The ids and weights a table was built from, by position. update() is called for any change
 * of the list; rebuilding a 65537-entry table only when these differ keeps that cheap.
 */
export class Membership {
  #ids: string[] = [];
  #weights: number[] = [];

  /** Records the candidates' ids and weights; true when they differ from the last call. */
  changed(candidates: readonly Candidate[]): boolean {
    let same = candidates.length === this.#ids.length;
    for (let i = 0; same && i < candidates.length; i++) {
      same = candidates[i].id === this.#ids[i] && candidates[i].weight === this.#weights[i];
    }
    if (same) return false;
    this.#ids = candidates.map((c) => c.id);
    this.#weights = candidates.map((c) => c.weight);
    return true;
  }
}

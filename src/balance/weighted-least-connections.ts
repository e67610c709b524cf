// Weighted least connections: the eligible candidate with the lowest (active + 1) / weight,
// compared by cross-multiplication (no division, exact for integers). Ties take turns.
//
// Why active + 1 (as HAProxy does) rather than active: at light load every member has 0 active,
// so active / weight ties everywhere and weights would not matter; with + 1 a weight-3 member
// takes three new connections for each one a weight-1 member takes, loaded or not.

import type { Algorithm } from './algorithm.ts';
import type { Candidate } from './balancer.ts';
import { isWeightedEligible } from './eligible.ts';
import { IndexedTurns } from './indexed-turns.ts';
import { TakingTurns } from './taking-turns.ts';

/** (a.active + 1) / a.weight < (b.active + 1) / b.weight, for positive weights. */
export function lessLoaded(a: Candidate, b: Candidate): boolean {
  return (a.active + 1) * b.weight < (b.active + 1) * a.weight;
}

export const weightedLeastConnections: Algorithm<'weighted-least-connections'> = {
  name: 'weighted-least-connections', create: (candidates) => new WeightedLeastConnections(candidates),
  createIndexed: (candidates) => new IndexedWeightedLeastConnections(candidates),
  usesHash: false, weighted: true, rebuildsOnWeight: false,
  kernel: { method: 'weighted', note: 'weighted-least-connections runs as weighted-round-robin: nftables does not count connections per member' },
};

export class WeightedLeastConnections<T extends Candidate> extends TakingTurns<T> {
  override readonly algorithm = 'weighted-least-connections';

  pick(_hash: number, skip: readonly T[] | null): T | undefined {
    const list = this.candidates;
    const n = list.length;
    let best: T | undefined;
    // (active + 1) / weight of the best so far; 1 / 0 loses to any positive weight
    let bestLoad = 1;
    let bestWeight = 0;
    let bestIndex = 0;
    let i = this.start;
    for (let k = 0; k < n; k++) {
      const candidate = list[i];
      const load = candidate.active + 1;
      // the cheap comparison first, so most candidates are never checked against `skip`
      if (load * bestWeight < bestLoad * candidate.weight && isWeightedEligible(candidate, skip)) {
        best = candidate;
        bestLoad = load;
        bestWeight = candidate.weight;
        bestIndex = i;
      }
      if (++i === n) i = 0;
    }
    if (best !== undefined) this.chose(bestIndex);
    return best;
  }
}

/** The same choices in O(log n): one tree keyed by (active + 1) / weight (see indexed-turns.ts). */
export class IndexedWeightedLeastConnections<T extends Candidate> extends IndexedTurns<T> {
  override readonly algorithm = 'weighted-least-connections';

  protected rekey(i: number, building: boolean): boolean {
    const candidate = this.candidates[i];
    const isIn = candidate.usable && candidate.weight > 0;
    if (building) this.trees[0].put(i, isIn, candidate.active + 1, candidate.weight);
    return !building && this.trees[0].set(i, isIn, candidate.active + 1, candidate.weight);
  }

  protected choose(start: number): number {
    return this.trees[0].best(start);
  }
}

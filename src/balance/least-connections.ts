// Least connections: the eligible candidate with the fewest active connections, ignoring weight.
// The scan starts one past the previous choice, so members with equal counts take turns
// instead of the first one in the list taking every tie.

import type { Algorithm } from './algorithm.ts';
import type { Candidate } from './balancer.ts';
import { isEligible } from './eligible.ts';
import { IndexedTurns } from './indexed-turns.ts';
import { TakingTurns } from './taking-turns.ts';

export class LeastConnections<T extends Candidate> extends TakingTurns<T> {
  override readonly algorithm = 'least-connections';

  pick(_hash: number, skip: readonly T[] | null): T | undefined {
    const list = this.candidates;
    const n = list.length;
    let best: T | undefined;
    let bestActive = Infinity;
    let bestIndex = 0;
    let i = this.start;
    for (let k = 0; k < n; k++) {
      const candidate = list[i];
      // Strict < : on a tie the first met from the rotating start wins. The cheap comparison
      // goes first so most candidates are never checked against `skip`.
      const load = loadOf(candidate);
      if (load < bestActive && isEligible(candidate, skip)) {
        best = candidate;
        bestActive = load;
        bestIndex = i;
      }
      if (++i === n) i = 0;
    }
    if (best !== undefined) this.chose(bestIndex);
    return best;
  }
}

/** The same choices in O(log n): one tree keyed by the load (see indexed-turns.ts). */
export class IndexedLeastConnections<T extends Candidate> extends IndexedTurns<T> {
  override readonly algorithm = 'least-connections';

  protected rekey(i: number, building: boolean): boolean {
    const candidate = this.candidates[i];
    const load = loadOf(candidate);
    // the scan never takes an infinite load (a ramp of 0)
    const isIn = candidate.usable && load < Infinity;
    if (building) this.trees[0].put(i, isIn, load, 1);
    return !building && this.trees[0].set(i, isIn, load, 1);
  }

  protected choose(start: number): number {
    return this.trees[0].best(start);
  }
}

/** Active connections, or as many as a member in slow start counts for: (active + 1) / ramp - 1. */
function loadOf(candidate: Candidate): number {
  const ramp = candidate.ramp;
  return ramp === undefined || ramp >= 1 ? candidate.active : (candidate.active + 1) / ramp - 1;
}

export const leastConnections: Algorithm<'least-connections'> = {
  name: 'least-connections', create: (candidates) => new LeastConnections(candidates),
  createIndexed: (candidates) => new IndexedLeastConnections(candidates),
  usesHash: false, weighted: false, rebuildsOnWeight: false,
  kernel: { method: 'round-robin', note: 'least-connections runs as round-robin: nftables does not count connections per member' },
};

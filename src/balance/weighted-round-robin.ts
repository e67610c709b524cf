// Smooth weighted round-robin (nginx): every pick, each eligible candidate's current weight grows
// by its weight; the largest wins and gives back the total. Heavier members come up more often
// but interleaved with the others (5,1,1 -> a a b a c a a), so no member gets a burst.

import type { Algorithm } from './algorithm.ts';
import type { Balancer, Candidate } from './balancer.ts';
import { isWeightedEligible } from './eligible.ts';

export class WeightedRoundRobin<T extends Candidate> implements Balancer<T> {
  readonly algorithm = 'weighted-round-robin';
  #candidates: readonly T[] = [];
  /** current (smooth) weight per candidate, by index */
  #current = new Float64Array(0);

  constructor(candidates: readonly T[]) {
    this.update(candidates);
  }

  update(candidates: readonly T[]): void {
    this.#candidates = candidates.slice();
    // A new list starts a new cycle, as nginx does on reload.
    this.#current = new Float64Array(candidates.length);
  }

  pick(_hash: number, skip: readonly T[] | null): T | undefined {
    const list = this.#candidates;
    const current = this.#current;
    let total = 0;
    let best = -1;
    let bestCurrent = -Infinity;
    for (let i = 0; i < list.length; i++) {
      const candidate = list[i];
      // Ineligible members neither gain nor count towards the total, so they do not
      // come back with a burst of saved-up credit.
      if (!isWeightedEligible(candidate, skip)) continue;
      const grown = (current[i] += candidate.weight);
      total += candidate.weight;
      if (grown > bestCurrent) {
        best = i;
        bestCurrent = grown;
      }
    }
    if (best < 0) return undefined;
    current[best] -= total;
    return list[best];
  }
}

export const weightedRoundRobin: Algorithm<'weighted-round-robin'> = {
  name: 'weighted-round-robin', create: (candidates) => new WeightedRoundRobin(candidates),
  usesHash: false, weighted: true,
  kernel: { method: 'weighted', note: null },
};

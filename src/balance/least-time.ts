// Least time: the lowest latency * (active + 1) / weight, i.e. the member expected to serve the
// next connection soonest. Ties take turns.
//
// A member without a sample (latency 0) is scored as fast as the fastest measured one: it gets
// tried (it ties the best at equal load) without a score of 0 pulling every new connection
// onto it before its first sample arrives. With no samples at all this is weighted
// least-connections.

import type { Algorithm } from './algorithm.ts';
import type { Candidate } from './balancer.ts';
import { isWeightedEligible } from './eligible.ts';
import { TakingTurns } from './taking-turns.ts';

export class LeastTime<T extends Candidate> extends TakingTurns<T> {
  override readonly algorithm = 'least-time';

  pick(_hash: number, skip: readonly T[] | null): T | undefined {
    const list = this.candidates;
    const n = list.length;
    const neutral = fastestSample(list, skip);
    let best: T | undefined;
    // latency * (active + 1) of the best so far, and its weight; Infinity / 1 loses to any
    let bestCost = Infinity;
    let bestWeight = 1;
    let bestIndex = 0;
    let i = this.start;
    for (let k = 0; k < n; k++) {
      const candidate = list[i];
      const cost = (candidate.latency > 0 ? candidate.latency : neutral) * (candidate.active + 1);
      // cost / weight < bestCost / bestWeight without dividing; cheap test before `skip`
      if (cost * bestWeight < bestCost * candidate.weight && isWeightedEligible(candidate, skip)) {
        best = candidate;
        bestCost = cost;
        bestWeight = candidate.weight;
        bestIndex = i;
      }
      if (++i === n) i = 0;
    }
    if (best !== undefined) this.chose(bestIndex);
    return best;
  }
}

/** The lowest latency sampled among eligible candidates; 1 when none has a sample. */
function fastestSample<T extends Candidate>(list: readonly T[], skip: readonly T[] | null): number {
  let fastest = Infinity;
  for (let i = 0; i < list.length; i++) {
    const candidate = list[i];
    if (candidate.latency > 0 && candidate.latency < fastest && isWeightedEligible(candidate, skip)) {
      fastest = candidate.latency;
    }
  }
  return fastest === Infinity ? 1 : fastest;
}

export const leastTime: Algorithm<'least-time'> = {
  name: 'least-time', create: (candidates) => new LeastTime(candidates),
  usesHash: false, weighted: true,
  kernel: { method: 'weighted', note: 'least-time runs as weighted-round-robin: nftables does not measure response times' },
};

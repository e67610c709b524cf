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
import { IndexedTurns } from './indexed-turns.ts';
import { TakingTurns } from './taking-turns.ts';

export class LeastTime<T extends Candidate> extends TakingTurns<T> {
  override readonly algorithm = 'least-time';

  pick(_hash: number, skip: readonly T[] | null): T | undefined {
    const list = this.candidates;
    const n = list.length;
    const neutral = fastestSample(list, skip);
    let best: T | undefined;
    let bestCost = Infinity;
    let bestIndex = 0;
    let i = this.start;
    for (let k = 0; k < n; k++) {
      const candidate = list[i];
      // cheap test before `skip`; a weight of 0 costs Infinity and never wins
      const cost = timeCost(candidate.latency, candidate.active + 1, candidate.weight, neutral);
      if (cost < bestCost && isWeightedEligible(candidate, skip)) {
        best = candidate;
        bestCost = cost;
        bestIndex = i;
      }
      if (++i === n) i = 0;
    }
    if (best !== undefined) this.chose(bestIndex);
    return best;
  }
}

/**
 * The expected time to the next connection's turn, one number per member: latency × (active + 1)
 * / weight, or for a member without a sample the fastest sample × ((active + 1) / weight). One
 * number, not a fraction compared by cross-multiplication: the latencies are running averages,
 * and pairwise products of them round differently pair by pair, so a tie could be a win in one
 * comparison and a loss in another — the scan and the trees would then part on which member is
 * the best. Numbers compare in one order, the same in both.
 */
function timeCost(latency: number, next: number, weight: number, fastest: number): number {
  return latency > 0 ? (latency * next) / weight : fastest * (next / weight);
}

const SAMPLED = 0;
const UNSAMPLED = 1;
const FASTEST = 2;

/**
 * The same choices in O(log n), with three trees (see indexed-turns.ts): members with a sample
 * keyed by their timeCost; members without one by (active + 1) / weight — their cost is that
 * times the fastest sample, the same factor for all of them, so their order does not depend on
 * it; and the members with a sample by latency, for that factor. Every tree holds the weight as
 * the unsampled tree's denominator, which the short cut of a take or give reads.
 */
export class IndexedLeastTime<T extends Candidate> extends IndexedTurns<T> {
  override readonly algorithm = 'least-time';

  constructor(candidates: readonly T[]) {
    super(candidates, 3);
  }

  protected rekey(i: number, building: boolean): boolean {
    const candidate = this.candidates[i];
    const eligible = candidate.usable && candidate.weight > 0;
    const latency = candidate.latency;
    const sampled = latency > 0;
    const next = candidate.active + 1;
    const withSample = this.trees[SAMPLED];
    const without = this.trees[UNSAMPLED];
    const fastest = this.trees[FASTEST];
    const weight = candidate.weight;
    // a sampled member's own cost; 0 when it has none (it is then out of that tree)
    const cost = sampled ? timeCost(latency, next, weight, 0) : 0;
    if (building) {
      withSample.put(i, eligible && sampled, cost, 1);
      without.put(i, eligible && !sampled, next, weight);
      fastest.put(i, eligible && sampled, latency, 1);
      return false;
    }
    // A connection taken or given (the common change) moves one tree only: the one the member
    // is in, when its latency, weight and eligibility are what the trees already hold.
    if (eligible && without.den(i) === weight) {
      if (sampled && withSample.has(i) && fastest.num(i) === latency) return withSample.set(i, true, cost, 1);
      if (!sampled && without.has(i)) return without.set(i, true, next, weight);
    }
    // no short-circuit: all three are kept
    const a = withSample.set(i, eligible && sampled, cost, 1);
    const b = without.set(i, eligible && !sampled, next, weight);
    const c = fastest.set(i, eligible && sampled, latency, 1);
    return a || b || c;
  }

  protected choose(start: number): number {
    const trees = this.trees;
    const s = trees[SAMPLED].best(start);
    const u = trees[UNSAMPLED].best(start);
    if (u < 0 || s < 0) return u < 0 ? s : u;
    const sCost = trees[SAMPLED].num(s);
    const uCost = timeCost(0, trees[UNSAMPLED].num(u), trees[UNSAMPLED].den(u), trees[FASTEST].num(trees[FASTEST].best(0)));
    // the one met first from `start` wins a tie, as in the scan
    const n = this.candidates.length;
    const sFirst = (s < start ? s + n : s) < (u < start ? u + n : u);
    if (sFirst) return uCost < sCost ? u : s;
    return sCost < uCost ? s : u;
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
  createIndexed: (candidates) => new IndexedLeastTime(candidates),
  usesHash: false, weighted: true, rebuildsOnWeight: false,
  kernel: { method: 'weighted', note: 'least-time runs as weighted-round-robin: nftables does not measure response times' },
};

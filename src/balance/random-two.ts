// Power of two choices: sample two distinct eligible candidates at random and take the less
// loaded by (active + 1) / weight. Nearly as even as least-connections, but without every
// balancer (or every burst) herding onto the same single least-loaded member.

import type { Algorithm } from './algorithm.ts';
import type { Balancer, Candidate } from './balancer.ts';
import { isWeightedEligible } from './eligible.ts';
import { lessLoaded } from './weighted-least-connections.ts';

export interface RandomTwoOptions {
  /** uniform in [0, 1); tests pass a seeded generator */
  random?: () => number;
}

/** Random probes before counting: enough when most members are eligible, cheap when not. */
const SAMPLE_TRIES = 4;

export class RandomTwo<T extends Candidate> implements Balancer<T> {
  readonly algorithm = 'random-two';
  #candidates: readonly T[] = [];
  readonly #random: () => number;

  constructor(candidates: readonly T[], options: RandomTwoOptions = {}) {
    this.#random = options.random ?? Math.random;
    this.update(candidates);
  }

  update(candidates: readonly T[]): void {
    this.#candidates = candidates.slice();
  }

  /** State is read live. */
  changed(_candidate: T): void {}

  pick(_hash: number, skip: readonly T[] | null): T | undefined {
    const first = this.#sample(skip, -1);
    if (first < 0) return undefined;
    const a = this.#candidates[first];
    const second = this.#sample(skip, first);
    if (second < 0) return a;
    const b = this.#candidates[second];
    return lessLoaded(b, a) ? b : a;
  }

  /** Index of a uniformly chosen eligible candidate other than `exclude`, or -1. */
  #sample(skip: readonly T[] | null, exclude: number): number {
    const list = this.#candidates;
    const n = list.length;
    if (n === 0) return -1;
    // Rejection sampling: uniform over the eligible, O(1) when most are eligible.
    for (let t = 0; t < SAMPLE_TRIES; t++) {
      const i = Math.floor(this.#random() * n);
      if (i !== exclude && isWeightedEligible(list[i], skip)) return i;
    }
    // Mostly ineligible: count them and take one by rank, still uniform.
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (i !== exclude && isWeightedEligible(list[i], skip)) count++;
    }
    if (count === 0) return -1;
    let rank = Math.floor(this.#random() * count);
    for (let i = 0; i < n; i++) {
      if (i !== exclude && isWeightedEligible(list[i], skip) && rank-- === 0) return i;
    }
    return -1;
  }
}

export const randomTwo: Algorithm<'random-two'> = {
  name: 'random-two', create: (candidates) => new RandomTwo(candidates),
  usesHash: false, weighted: true, rebuildsOnWeight: false,
  kernel: { method: 'random', note: 'random-two runs as weighted random (numgen random): nftables cannot compare two members\' connection counts' },
};

// Smooth weighted round-robin (nginx): every pick, each eligible candidate's current weight grows
// by its weight; the largest wins and gives back the total. Heavier members come up more often
// but interleaved with the others (5,1,1 -> a a b a c a a), so no member gets a burst.

import type { Algorithm } from './algorithm.ts';
import type { Balancer, Candidate } from './balancer.ts';
import { isWeightedEligible } from './eligible.ts';
import { GroupedRace } from './grouped-race.ts';

export class WeightedRoundRobin<T extends Candidate> implements Balancer<T> {
  readonly algorithm = 'weighted-round-robin';
  #candidates: readonly T[] = [];
  /** current (smooth) weight per candidate, by index */
  #current = new Float64Array(0);

  constructor(candidates: readonly T[]) {
    this.update(candidates);
  }

  /** A new list starts a new cycle, as nginx does on reload; a weight change needs no call (weights are read live). */
  update(candidates: readonly T[]): void {
    this.#candidates = candidates.slice();
    this.#current = new Float64Array(candidates.length);
  }

  /** State and weights are read live: a new weight grows the current one from the next pick on. */
  changed(_candidate: T): void {}

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

/** Re-read every candidate this often when counts are shared (see indexed-turns.ts). */
const CHECK_EVERY = 64;

/**
 * The same choices in O(log n) amortised: each eligible member's current weight is a line,
 * base + weight × picks, in a race that finds the largest (grouped-race.ts: members of one weight
 * grouped, their leaders in a kinetic tournament);
 * a member that is not eligible leaves the race with its current weight and rejoins with it, as
 * the scan leaves it unchanged. Reads a candidate's usable only when told through changed()
 * (and, with shared counts, re-reads the winner and every candidate now and then, as
 * indexed-turns.ts does).
 */
export class IndexedWeightedRoundRobin<T extends Candidate> implements Balancer<T> {
  readonly algorithm = 'weighted-round-robin';
  #candidates: readonly T[] = [];
  readonly #index = new Map<T, number>();
  readonly #race = new GroupedRace();
  /** the sum of the weights in the race */
  #total = 0;
  /** candidates a skip list took out of this pick */
  readonly #dropped: number[] = [];
  #untilCheck = 1;
  #shared = false;
  /** the last pick and its index: the pool tells of its take at once, with no lookup in #index */
  #picked: T | undefined = undefined;
  #pickedAt = -1;

  constructor(candidates: readonly T[]) {
    this.update(candidates);
  }

  update(candidates: readonly T[]): void {
    this.#candidates = candidates.slice();
    this.#index.clear();
    this.#picked = undefined;
    // a new list starts a new cycle, as the scan does
    this.#race.reset(candidates.length);
    this.#total = 0;
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i];
      this.#index.set(candidate, i);
      const isIn = isWeightedEligible(candidate, null);
      this.#race.put(i, isIn, 0, candidate.weight);
      if (isIn) this.#total += candidate.weight;
    }
    this.#race.build();
  }

  /**
   * Its eligibility or its weight changed. A new weight keeps the member's current weight, which
   * grows by the new one from the next pick on, as the scan (which reads weights live) does: the
   * cycle goes on rather than starting again. O(log n).
   */
  changed(candidate: T): void {
    const i = candidate === this.#picked ? this.#pickedAt : this.#index.get(candidate);
    if (i === undefined) return;
    const race = this.#race;
    const weight = candidate.weight;
    if (weight !== race.rate(i)) {
      if (race.has(i)) this.#total += weight - race.rate(i);
      race.setRate(i, weight);
    }
    this.#recheck(i, race.now);
  }

  pick(_hash: number, skip: readonly T[] | null): T | undefined {
    if (--this.#untilCheck <= 0) this.#check();
    const race = this.#race;
    if (skip !== null) {
      for (let k = 0; k < skip.length; k++) {
        const i = this.#index.get(skip[k]);
        if (i === undefined || !race.has(i)) continue;
        this.#leave(i, race.now);
        this.#dropped.push(i);
      }
    }
    let best = race.tick();
    // shared counts: the winner may have filled up in another thread; it sits this pick out
    for (let k = 0; this.#shared && best >= 0 && k < CHECK_EVERY && this.#recheck(best, race.now - 1); k++) best = race.winner;
    if (best >= 0) race.lower(best, this.#total);
    // setting an array's length calls into the runtime: only after a skip list took some out
    if (this.#dropped.length > 0) this.#rejoin();
    if (best < 0) return undefined;
    this.#pickedAt = best;
    return (this.#picked = this.#candidates[best]);
  }

  /** The candidates a skip list took out of this pick go back in the race. */
  #rejoin(): void {
    const dropped = this.#dropped;
    for (let k = 0; k < dropped.length; k++) this.#join(dropped[k]);
    dropped.length = 0;
  }

  /** Puts candidate i in or out of the race as its eligibility says; true when that changed. */
  #recheck(i: number, at: number): boolean {
    const isIn = isWeightedEligible(this.#candidates[i], null);
    if (isIn === this.#race.has(i)) return false;
    if (isIn) this.#join(i);
    else this.#leave(i, at);
    return true;
  }

  /** The total counts a member's weight as the race holds it (its rate), which changed() keeps current. */
  #leave(i: number, at: number): void {
    this.#race.leave(i, at);
    this.#total -= this.#race.rate(i);
  }

  #join(i: number): void {
    this.#race.join(i);
    this.#total += this.#race.rate(i);
  }

  #check(): void {
    const list = this.#candidates;
    this.#shared = list.length > 0 && list[0].shared === true;
    this.#untilCheck = this.#shared ? Math.max(CHECK_EVERY, list.length >> 2) : CHECK_EVERY;
    if (this.#shared) for (let i = 0; i < list.length; i++) this.#recheck(i, this.#race.now);
  }
}

export const weightedRoundRobin: Algorithm<'weighted-round-robin'> = {
  name: 'weighted-round-robin', create: (candidates) => new WeightedRoundRobin(candidates),
  createIndexed: (candidates) => new IndexedWeightedRoundRobin(candidates),
  usesHash: false, weighted: true, rebuildsOnWeight: false,
  kernel: { method: 'weighted', note: null },
};

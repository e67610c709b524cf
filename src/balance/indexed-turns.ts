// What the indexed forms of the least-* balancers share: their candidates in tournament trees
// (tournament.ts) keyed by what each compares, so a pick is O(log n) instead of a scan. They
// read a candidate's state only when told it changed (changed()), and choose exactly as the
// scanning forms do, ties taking turns from one past the last choice.
//
// With worker threads a member's `active` count is also changed by the other threads, which
// cannot tell this one: a candidate marked `shared` is re-read when it wins (a stale winner is
// re-keyed and the pick made again) and every candidate is re-read every CHECK_EVERY picks or
// every quarter of the pool's size, whichever is more — so a count that fell elsewhere is seen
// within that many picks, at O(1) amortised cost per pick.

import type { Balancer, Candidate } from './balancer.ts';
import { Tournament } from './tournament.ts';

const CHECK_EVERY = 64;

/** How many times a pick re-keys a stale winner before it takes the one it has. */
const RECHECKS = 8;

export abstract class IndexedTurns<T extends Candidate> implements Balancer<T> {
  abstract readonly algorithm: string;
  protected candidates: readonly T[] = [];
  /** index where the next turn starts */
  protected start = 0;
  protected readonly trees: Tournament[];
  readonly #index = new Map<T, number>();
  /** what one pick's skip list took out of the trees: tree number and candidate index, in pairs */
  readonly #dropped: number[] = [];
  /** picks until the next #check(); the first pick checks */
  #untilCheck = 1;
  #shared = false;

  constructor(candidates: readonly T[], trees = 1) {
    this.trees = Array.from({ length: trees }, () => new Tournament());
    this.update(candidates);
  }

  update(candidates: readonly T[]): void {
    this.candidates = candidates.slice();
    if (this.start >= candidates.length) this.start = 0;
    this.#index.clear();
    for (let i = 0; i < candidates.length; i++) this.#index.set(candidates[i], i);
    for (const tree of this.trees) tree.reset(candidates.length);
    this.#rekeyAll();
  }

  changed(candidate: T): void {
    const i = this.#index.get(candidate);
    if (i !== undefined) this.rekey(i, false);
  }

  pick(_hash: number, skip: readonly T[] | null): T | undefined {
    if (--this.#untilCheck <= 0) this.#check();
    if (skip !== null) this.#drop(skip);
    let chosen = this.choose(this.start);
    // shared counts: the winner's count may have moved in another thread since it was keyed
    for (let k = 0; this.#shared && chosen >= 0 && k < RECHECKS && this.rekey(chosen, false); k++) {
      chosen = this.choose(this.start);
    }
    if (this.#dropped.length > 0) this.#restore();
    if (chosen < 0) return undefined;
    this.start = chosen + 1 === this.candidates.length ? 0 : chosen + 1;
    return this.candidates[chosen];
  }

  /**
   * Reads candidate i's state into the trees: with `building`, put() only (build() follows);
   * else set(), O(log n). True when a key changed.
   */
  protected abstract rekey(i: number, building: boolean): boolean;

  /** The index to choose with the turn at `start`, -1 for none. */
  protected abstract choose(start: number): number;

  #rekeyAll(): void {
    for (let i = 0; i < this.candidates.length; i++) this.rekey(i, true);
    for (const tree of this.trees) tree.build();
  }

  /** Whether the counts are shared (worker threads); if so, every candidate is re-read. */
  #check(): void {
    this.#shared = this.candidates.length > 0 && this.candidates[0].shared === true;
    this.#untilCheck = this.#shared ? Math.max(CHECK_EVERY, this.candidates.length >> 2) : CHECK_EVERY;
    if (this.#shared) this.#rekeyAll();
  }

  #drop(skip: readonly T[]): void {
    for (let k = 0; k < skip.length; k++) {
      const i = this.#index.get(skip[k]);
      if (i === undefined) continue;
      for (let t = 0; t < this.trees.length; t++) {
        if (!this.trees[t].has(i)) continue;
        this.trees[t].drop(i);
        this.#dropped.push(t, i);
      }
    }
  }

  #restore(): void {
    const dropped = this.#dropped;
    for (let k = 0; k < dropped.length; k += 2) this.trees[dropped[k]].restore(dropped[k + 1]);
    dropped.length = 0;
  }
}

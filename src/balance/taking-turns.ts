// What the scanning balancers (round-robin, the least-* family) share: their candidates, and
// where the next scan starts — one past the last choice, so candidates that tie take turns
// instead of the first in the list winning every time.

import type { Balancer, Candidate } from './balancer.ts';

export abstract class TakingTurns<T extends Candidate> implements Balancer<T> {
  abstract readonly algorithm: string;
  protected candidates: readonly T[] = [];
  /** index where the next scan starts */
  protected start = 0;

  constructor(candidates: readonly T[]) {
    this.update(candidates);
  }

  update(candidates: readonly T[]): void {
    this.candidates = candidates.slice();
    if (this.start >= candidates.length) this.start = 0;
  }

  /** Scans read state live. */
  changed(_candidate: T): void {}

  /** The next scan starts past `index`, the candidate just chosen. */
  protected chose(index: number): void {
    this.start = index + 1 === this.candidates.length ? 0 : index + 1;
  }

  abstract pick(hash: number, skip: readonly T[] | null): T | undefined;
}

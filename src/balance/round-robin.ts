// Round-robin: each eligible candidate in list order, ignoring weight.

import type { Balancer, Candidate } from './balancer.ts';
import { isEligible } from './eligible.ts';

export class RoundRobin<T extends Candidate> implements Balancer<T> {
  readonly algorithm = 'round-robin';
  #candidates: readonly T[] = [];
  /** index where the next scan starts: one past the last choice */
  #next = 0;

  constructor(candidates: readonly T[]) {
    this.update(candidates);
  }

  update(candidates: readonly T[]): void {
    this.#candidates = candidates.slice();
    if (this.#next >= candidates.length) this.#next = 0;
  }

  pick(_hash: number, skip: readonly T[] | null): T | undefined {
    const list = this.#candidates;
    const n = list.length;
    let i = this.#next;
    for (let k = 0; k < n; k++) {
      const candidate = list[i];
      if (++i === n) i = 0;
      if (isEligible(candidate, skip)) {
        this.#next = i;
        return candidate;
      }
    }
    return undefined;
  }
}

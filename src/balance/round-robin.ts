// Round-robin: each eligible candidate in list order, ignoring weight.

import type { Algorithm } from './algorithm.ts';
import type { Candidate } from './balancer.ts';
import { isEligible } from './eligible.ts';
import { TakingTurns } from './taking-turns.ts';

export class RoundRobin<T extends Candidate> extends TakingTurns<T> {
  override readonly algorithm = 'round-robin';

  pick(_hash: number, skip: readonly T[] | null): T | undefined {
    const list = this.candidates;
    const n = list.length;
    let i = this.start;
    for (let k = 0; k < n; k++) {
      const candidate = list[i];
      if (++i === n) i = 0;
      if (isEligible(candidate, skip)) {
        this.start = i;
        return candidate;
      }
    }
    return undefined;
  }
}

export const roundRobin: Algorithm<'round-robin'> = {
  name: 'round-robin', create: (candidates) => new RoundRobin(candidates),
  usesHash: false, weighted: false, rebuildsOnWeight: false,
  kernel: { method: 'round-robin', note: null },
};

// Who may be chosen. Every algorithm asks these before returning a candidate, so the rules
// (usable, not already tried, weight > 0 for weighted algorithms) live in one place.

import type { Candidate } from './balancer.ts';

/** `skip` is the few members already tried for this connection: a linear scan beats a Set. */
export function isSkipped<T>(candidate: T, skip: readonly T[] | null): boolean {
  if (skip === null) return false;
  for (let i = 0; i < skip.length; i++) {
    if (skip[i] === candidate) return true;
  }
  return false;
}

/** For algorithms that ignore weight (round-robin, least-connections). */
export function isEligible<T extends Candidate>(candidate: T, skip: readonly T[] | null): boolean {
  return candidate.usable && !isSkipped(candidate, skip);
}

/** For weighted algorithms: weight 0 means "never send new work here". */
export function isWeightedEligible<T extends Candidate>(candidate: T, skip: readonly T[] | null): boolean {
  return candidate.usable && candidate.weight > 0 && !isSkipped(candidate, skip);
}

// Slow start: a member that comes back up gets a growing share of its weight, from RAMP_FLOOR
// to all of it over the pool's `slow-start`, so a cold server is not flooded. The hashing
// algorithms are left alone: changing their weights would move keys at every step.

import type { Member } from '../runtime/member.ts';

/** The share a member starts from; never 0, or it would get nothing at all to warm up with. */
const RAMP_FLOOR = 0.05;
/** Steps over the ramp: fine enough to be smooth, few enough to cost nothing. */
const STEPS = 20;

export class SlowStart {
  readonly #ramps = new Map<Member, NodeJS.Timeout>();

  /** Starts (or restarts) the ramp of `member` over `duration` ms. */
  begin(member: Member, duration: number): void {
    this.end(member, false);
    const started = performance.now();
    member.setRamp(RAMP_FLOOR);
    const timer = setInterval(() => {
      const share = (performance.now() - started) / duration;
      if (share >= 1) return this.end(member, true);
      member.setRamp(Math.max(RAMP_FLOOR, share));
    }, Math.max(50, duration / STEPS));
    this.#ramps.set(member, timer);
  }

  /** Stops the ramp; `full` gives the member all of its weight. */
  end(member: Member, full = true): void {
    const timer = this.#ramps.get(member);
    if (timer === undefined) return;
    clearInterval(timer);
    this.#ramps.delete(member);
    if (full) member.setRamp(1);
  }

  ramping(member: Member): boolean {
    return this.#ramps.has(member);
  }

  close(): void {
    for (const member of [...this.#ramps.keys()]) this.end(member, true);
  }
}

// Passive health (pool key `passive-health`): real traffic counts. Each member counts its
// consecutive failures of real connections and requests; past the threshold it is ejected —
// takes nothing new, as if down — for a time that grows with each ejection in a row (Envoy's
// outlier detection), never past the pool's max-ejected-percent. When the time is over it is
// back in; a member whose monitors say down meanwhile stays out by its health, so with monitors
// it returns only once the time is over AND they say up.
//
// A pure state machine: the clock is injected, the member is told of each change. failure()
// and success() run once per connection or request: O(1), no allocation.

import type { PassiveHealthConfig } from '../config/types.ts';

/**
 * What counts as a failure of real traffic. udp (udp-flow.ts, udp-pending.ts): 'unreachable' is
 * an ICMP port or host unreachable on a member's socket; 'no-reply' a RADIUS request or SIP
 * request (balance-per) the member did not answer in time.
 */
export type PassiveFailure = 'connect' | 'connect-timeout' | 'reset' | 'http-5xx' | 'response-timeout' | 'unreachable' | 'no-reply';

const WORDS: Readonly<Record<PassiveFailure | 'mixed', string>> = {
  'connect': 'connect failures',
  'connect-timeout': 'connect timeouts',
  'reset': 'resets before any reply',
  'http-5xx': '5xx answers',
  'response-timeout': 'response timeouts',
  'unreachable': 'ICMP unreachables (udp)',
  'no-reply': 'requests with no reply (udp)',
  'mixed': 'failures (connects, resets, 5xx answers or timeouts)',
};

/** The clock and timers; real ones by default, a fake one in tests. */
export interface PassiveClock {
  now(): number;
  after(ms: number, run: () => void): unknown;
  cancel(timer: unknown): void;
}

export const REAL_CLOCK: PassiveClock = {
  now: () => Date.now(),
  // unref'd: an ejection must not keep a stopping process alive
  after: (ms, run) => setTimeout(run, ms).unref(),
  cancel: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export const PASSIVE_OFF: PassiveHealthConfig = { failures: 0, ejection: 30_000, maxEjection: 300_000, maxEjectedPercent: 50 };

/** What a PassiveHealth tells its member. */
export interface PassiveOwner {
  /** it was ejected (true) or came back (false); `reason` says why, in the user's words */
  passiveChanged(ejected: boolean, reason: string): void;
  /** it passed the threshold but the pool's cap kept it in (told once per run of failures) */
  passiveHeld(reason: string): void;
}

/** The pool's side: its config, how many members it has and how many are ejected. */
export class PassiveGroup {
  config: PassiveHealthConfig;
  readonly clock: PassiveClock;
  /** members in the pool */
  size = 0;
  /** members ejected now */
  ejected = 0;

  constructor(config: PassiveHealthConfig, clock: PassiveClock = REAL_CLOCK) {
    this.config = config;
    this.clock = clock;
  }

  /** How many may be ejected at once: max-ejected-percent of the pool, and never all of it. */
  get maxEjected(): number {
    return Math.max(0, Math.min(this.size - 1, Math.floor((this.size * this.config.maxEjectedPercent) / 100)));
  }
}

export class PassiveHealth {
  /** consecutive failures now */
  failures = 0;
  ejected = false;
  /** ms since epoch when the ejection ends; 0 when not ejected */
  ejectedUntil = 0;
  /** times ejected since start */
  ejections = 0;
  /** times the pool's cap kept it in when it passed the threshold */
  held = 0;
  /** why it is (or was last) ejected; '' when never */
  reason = '';
  /**
   * udp (balance-per): ms since epoch of the member's last answer. A request it left unanswered
   * counts as a failure only when it answered no one since that request was sent: a server that
   * answers others is alive, and drops a request for the request's sake (a wrong shared secret,
   * an unknown client), so a hostile client cannot get it ejected (udp-pending.ts).
   */
  answeredAt = 0;

  readonly #owner: PassiveOwner;
  readonly #group: PassiveGroup;
  /** the kind of every failure of the current run, or 'mixed' */
  #kind: PassiveFailure | 'mixed' = 'connect';
  /** ejections in a row: the multiplier of the ejection time */
  #streak = 0;
  /** how long the last ejection lasted, and when it ended (ms since epoch) */
  #lastDuration = 0;
  #returnedAt = 0;
  /** the pool's cap held it in during this run of failures: told once */
  #heldThisRun = false;
  #timer: unknown = null;
  /** the member left its pool: what its traffic still in progress says no longer counts */
  #disposed = false;

  constructor(owner: PassiveOwner, group: PassiveGroup) {
    this.#owner = owner;
    this.#group = group;
  }

  /** One failure of real traffic; past the threshold the member is ejected (if the pool allows). */
  failure(kind: PassiveFailure): void {
    const threshold = this.#group.config.failures;
    if (threshold === 0 || this.ejected || this.#disposed) return;
    this.#kind = this.failures === 0 || this.#kind === kind ? kind : 'mixed';
    if (++this.failures >= threshold) this.#eject();
  }

  /** One success (a connect, an answer that is not 5xx, a udp reply): the run of failures is over. */
  success(): void {
    if (this.failures === 0) return;
    this.failures = 0;
    this.#heldThisRun = false;
  }

  /** The member leaves its pool (a reload removed it, the pool is gone): its ejection ends silently. */
  dispose(): void {
    this.#disposed = true;
    if (this.#timer !== null) this.#group.clock.cancel(this.#timer);
    this.#timer = null;
    if (this.ejected) this.#group.ejected--;
    this.ejected = false;
    this.ejectedUntil = 0;
  }

  #eject(): void {
    const group = this.#group;
    const why = `${this.failures} consecutive ${WORDS[this.#kind]}`;
    if (group.ejected >= group.maxEjected) {
      if (this.#heldThisRun) return;
      this.#heldThisRun = true;
      this.held++;
      return this.#owner.passiveHeld(`not ejected after ${why}: max-ejected-percent ${group.config.maxEjectedPercent} of the pool's ${group.size} members reached`);
    }
    const config = group.config;
    const now = group.clock.now();
    // back for as long as its last ejection lasted without failing again: the streak is over
    if (this.#returnedAt !== 0 && now - this.#returnedAt >= this.#lastDuration) this.#streak = 0;
    this.#streak++;
    const duration = Math.min(config.ejection * this.#streak, Math.max(config.ejection, config.maxEjection));
    this.#lastDuration = duration;
    this.ejected = true;
    this.ejectedUntil = now + duration;
    this.ejections++;
    this.reason = `ejected: ${why}`;
    group.ejected++;
    this.#timer = group.clock.after(duration, this.#return);
    this.#owner.passiveChanged(true, `${this.reason}, for ${duration / 1000} s`);
  }

  #return = (): void => {
    this.#timer = null;
    if (!this.ejected) return;
    this.ejected = false;
    this.ejectedUntil = 0;
    this.failures = 0;
    this.#heldThisRun = false;
    this.#returnedAt = this.#group.clock.now();
    this.#group.ejected--;
    this.#owner.passiveChanged(false, 'ejection time over');
  };
}

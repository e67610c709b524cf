// The clock of one request, for the access log: how long it waited in the pool's queue, how long
// opening member connections took (all attempts together), when the member's first response byte
// came. An exchange has one only when its line will be logged: without, nothing is timed.
// It is itself the Timings the access log reads (one object per logged request).

import type { Timings } from './access-log.ts';

export class RequestClock implements Timings {
  /** performance.now() when the request head had been read */
  readonly start = performance.now();
  queue = 0;
  connect = 0;
  firstByte = 0;
  /** performance.now() when queueing or connecting began; 0 when not in progress */
  #queuedAt = 0;
  #connectAt = 0;

  queueStarted(): void {
    this.#queuedAt = performance.now();
  }

  queueEnded(): void {
    this.queue += since(this.#queuedAt);
    this.#queuedAt = 0;
  }

  connectStarted(): void {
    this.#connectAt = performance.now();
  }

  connectEnded(): void {
    this.connect += since(this.#connectAt);
    this.#connectAt = 0;
  }

  /** The member's first response byte came. */
  firstByteCame(): void {
    this.firstByte = performance.now() - this.start;
  }

  /** The request is over: a wait still running ends now. */
  stop(): Timings {
    this.queueEnded();
    this.connectEnded();
    return this;
  }
}

/** Milliseconds since `start` (a performance.now()); 0 when nothing was started. */
function since(start: number): number {
  return start === 0 ? 0 : performance.now() - start;
}

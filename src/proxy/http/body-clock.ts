// The request body's clock: how long the client may take for its next body bytes
// (timeouts.body, min-body-rate, timeouts.request). The time the client spends paused for the
// member's sake (the member is not taking the body as fast as it comes) is not counted against
// it: the body's start and the request's move on by it.

import type { HttpServiceConfig } from '../../config/http-types.ts';

export class BodyClock {
  /** the body's start and the request's (ms since epoch), moved on by the time spent paused */
  #bodyStart = Date.now();
  #requestStart: number;
  /** when reading was paused for the member (or the wait for one); 0 = not paused */
  #pausedAt = 0;

  /** `requestStart`: when the request's head began to arrive (ms since epoch) */
  constructor(requestStart: number) {
    this.#requestStart = requestStart;
  }

  get paused(): boolean {
    return this.#pausedAt !== 0;
  }

  pause(): void {
    if (this.#pausedAt === 0) this.#pausedAt = Date.now();
  }

  resume(): void {
    if (this.#pausedAt === 0) return;
    const paused = Date.now() - this.#pausedAt;
    this.#bodyStart += paused;
    this.#requestStart += paused;
    this.#pausedAt = 0;
  }

  /**
   * How long the client may take for its next body bytes (ms from now): `timeouts.body` (or the
   * idle timeout, when shorter) between reads; no later than the point where the body falls
   * under min-body-rate (after a first `timeouts.body` of grace: bytes so far / rate); and no
   * later than the whole request's deadline. `bytesIn`: the body bytes read so far.
   */
  deadline(t: HttpServiceConfig['timeouts'], idle: number, bytesIn: number): number {
    const now = Date.now();
    let at = now + Math.min(t.body, idle);
    if (t.minBodyRate > 0) at = Math.min(at, this.#bodyStart + t.body + (bytesIn * 1000) / t.minBodyRate);
    if (t.request > 0) at = Math.min(at, this.#requestStart + t.request);
    return Math.max(1, Math.ceil(at - now));
  }
}

// The shared counts as a worker uses them, plus its own share of each: when a worker dies, its
// connections are gone but the counts it took are still in the shared slots; the main thread
// gives them back from this share (WorkerThreads), so max-connections does not shrink for good.

import { SharedCounters } from '../runtime/shared-counters.ts';

export class WorkerCounters extends SharedCounters {
  /** written by this worker only, read by the main thread once the worker has exited */
  readonly #own: Int32Array;

  constructor(buffer: SharedArrayBuffer, own: SharedArrayBuffer) {
    super(buffer);
    this.#own = new Int32Array(own);
  }

  override acquire(slot: number, limit: number): boolean {
    if (!super.acquire(slot, limit)) return false;
    this.#own[slot]++;
    return true;
  }

  override release(slot: number): number {
    this.#own[slot]--;
    return super.release(slot);
  }
}

/** Gives back to `counters` what a dead worker held (its `own` share), and clears that share. */
export function returnShare(counters: SharedArrayBuffer, own: SharedArrayBuffer): number {
  const counts = new Int32Array(counters);
  const share = new Int32Array(own);
  let returned = 0;
  for (let slot = 0; slot < share.length; slot++) {
    const held = share[slot];
    if (held === 0) continue;
    Atomics.sub(counts, slot, held);
    share[slot] = 0;
    returned += held;
  }
  return returned;
}

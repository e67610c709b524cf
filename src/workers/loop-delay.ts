// How late a worker thread's event loop has been, as the admin plane reads it: a worker serves
// its connections on one loop, so whatever holds that loop (a long synchronous task, a garbage
// collection, the core taken by another process) delays every connection it holds. A timer due
// every LOOP_DELAY_RESOLUTION ms notes how late it fired (one callback per interval, nothing per
// request); each report takes the longest since the previous one, and the main thread keeps the
// longest of the reports since the last scrape (workers-view.ts). Not monitorEventLoopDelay: its
// reset() drops the interval under way, so a stall spanning a report would be seen by neither.

import { performance } from 'node:perf_hooks';
import { LOOP_DELAY_RESOLUTION } from '../admin/threads.ts';

export class LoopDelayMonitor {
  /** the longest delay since the last take, in ms */
  #longest = 0;
  #last = performance.now();
  readonly #tick = (): void => {
    const now = performance.now();
    const late = now - this.#last - LOOP_DELAY_RESOLUTION;
    if (late > this.#longest) this.#longest = late;
    this.#last = now;
  };
  // (unref'd: it keeps no worker alive; it ends with the worker's loop)
  readonly #timer = setInterval(this.#tick, LOOP_DELAY_RESOLUTION).unref();

  /** The longest delay since the last take (or the start), in seconds; the next interval starts. */
  take(): number {
    const longest = this.#longest;
    this.#longest = 0;
    return longest / 1000;
  }
}

// A worker thread of the shared-counters test: many clients acquire and release one member's
// slot against its limit, and record in a second shared array how many hold a place at once.
// `clients` > 0: that many concurrent async clients, each holding its place for a few turns of
// the event loop; 0: a tight synchronous loop of acquire/release pairs, `cycles` of them and more
// until the other worker has done as many too, so that the two loops overlap.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SharedCounters } from '../../src/runtime/shared-counters.ts';

export interface CounterWork {
  counts: SharedArrayBuffer;
  /** Int32Array slots: START, HELD, PEAK, SEEN (see below) */
  check: SharedArrayBuffer;
  slot: number;
  /** which of the two workers this is (0 or 1): where it reports its progress */
  index: number;
  limit: number;
  clients: number;
  cycles: number;
}

/** the start flag (the test sets it to 1), places held now, the most held at once, the highest count read after an acquire */
export const START = 0;
export const HELD = 1;
export const PEAK = 2;
export const SEEN = 3;
/** cycles done by worker 0 and worker 1 (tight loops) */
export const PROGRESS = 4;
export const CHECK_SLOTS = 6;

// (the test imports the names above: the work runs only in a worker)
if (!isMainThread) await run(workerData as CounterWork);

async function run(work: CounterWork): Promise<void> {
  const counters = new SharedCounters(work.counts);
  const check = new Int32Array(work.check);
  let acquired = 0;
  let refused = 0;

  function raise(index: number, value: number): void {
    let was = Atomics.load(check, index);
    while (value > was) {
      const seen = Atomics.compareExchange(check, index, was, value);
      if (seen === was) return;
      was = seen;
    }
  }

  /** After a successful acquire: one more holds a place. */
  function hold(): void {
    acquired++;
    raise(PEAK, Atomics.add(check, HELD, 1) + 1);
    raise(SEEN, counters.read(work.slot));
  }

  function letGo(): void {
    Atomics.sub(check, HELD, 1);
    counters.release(work.slot);
  }

  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  async function client(seed: number): Promise<void> {
    for (let c = 0; c < work.cycles; c++) {
      while (!counters.acquire(work.slot, work.limit)) {
        refused++;
        await turn();
      }
      hold();
      for (let t = (seed + c) % 3; t >= 0; t--) await turn();
      letGo();
    }
  }

  // both workers start together, once both are loaded
  parentPort!.postMessage('ready');
  Atomics.wait(check, START, 0);
  if (work.clients > 0) {
    await Promise.all(Array.from({ length: work.clients }, (_, i) => client(i)));
  } else {
    const other = PROGRESS + 1 - work.index;
    let done = 0;
    while (done < work.cycles || Atomics.load(check, other) < work.cycles) {
      for (let k = 0; k < 1000; k++, done++) {
        if (!counters.acquire(work.slot, work.limit)) {
          refused++;
          continue;
        }
        hold();
        letGo();
      }
      Atomics.store(check, PROGRESS + work.index, done);
    }
  }
  parentPort!.postMessage({ acquired, refused });
}

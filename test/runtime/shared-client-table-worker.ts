// A worker thread of the shared-client-table test: a tight loop of acquires and releases on a few
// addresses under a cap, in its own column, recording in a second shared array how many places
// each address holds at once (across both threads) and the most ever held.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { COUNTED, FULL, SharedClientTable } from '../../src/runtime/shared-client-table.ts';

export interface TableWork {
  table: SharedArrayBuffer;
  /** Int32Array: START, then per address [held now, peak] */
  check: SharedArrayBuffer;
  column: number;
  addresses: string[];
  cap: number;
  cycles: number;
}

export const START = 0;
export const heldAt = (a: number): number => 1 + 2 * a;
export const peakAt = (a: number): number => 2 + 2 * a;

if (!isMainThread) run(workerData as TableWork);

function run(work: TableWork): void {
  const table = new SharedClientTable(work.table, work.column);
  const check = new Int32Array(work.check);
  const n = work.addresses.length;
  /** places this thread holds per address, released in turn */
  const mine = new Array<number>(n).fill(0);
  let counted = 0;
  let full = 0;
  let uncounted = 0;
  parentPort!.postMessage('ready');
  Atomics.wait(check, START, 0);
  let r = work.column * 7919 + 1;
  for (let c = 0; c < work.cycles; c++) {
    r = (Math.imul(r, 1103515245) + 12345) >>> 0;
    const a = (r >>> 8) % n;
    if ((r & 3) !== 0 || mine[a] === 0) {
      const result = table.acquire(work.addresses[a], work.cap);
      if (result === COUNTED) {
        counted++;
        mine[a]++;
        const held = Atomics.add(check, heldAt(a), 1) + 1;
        let was = Atomics.load(check, peakAt(a));
        while (held > was) {
          const seen = Atomics.compareExchange(check, peakAt(a), was, held);
          if (seen === was) break;
          was = seen;
        }
      } else if (result === FULL) full++;
      else uncounted++;
    } else {
      // the count is decreased after the place is given up, so `held` never undercounts the table
      Atomics.sub(check, heldAt(a), 1);
      table.release(work.addresses[a]);
      mine[a]--;
    }
  }
  for (let a = 0; a < n; a++) {
    for (; mine[a] > 0; mine[a]--) {
      Atomics.sub(check, heldAt(a), 1);
      table.release(work.addresses[a]);
    }
  }
  parentPort!.postMessage({ counted, full, uncounted });
}

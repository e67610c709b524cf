// Micro-benchmark of max-connections-per-client across worker threads (issue 14): ns per
// admit+release of one connection, the one loop's Map (ClientCaps.full, admit, release) against
// the shared table the workers count in (ClientCaps.take, admit, release over a
// SharedClientTable: address parsed to 16 bytes, spin lock, probe), over 1, 1,000 and 10,000
// client addresses in turn; then two threads at once on one table, each timing its own pairs.
// Best of RUNS, the variants alternating within each run.
// Run: npx node bench/client-caps.ts

import { once } from 'node:events';
import { loadavg } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ClientCaps } from '../src/proxy/client-caps.ts';
import { clientTableBuffer, SharedClientTable, slotsFor } from '../src/runtime/shared-client-table.ts';

const PAIRS = 1_000_000;
const RUNS = 5;
const CAP = 1_000;

function addresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
}

function mapPairs(list: string[]): number {
  const caps = new ClientCaps<object>();
  const conns = list.map(() => ({}));
  const start = process.hrtime.bigint();
  for (let i = 0, k = 0; i < PAIRS; i++, k = k + 1 === list.length ? 0 : k + 1) {
    if (caps.full(list[k], CAP)) continue;
    caps.admit(conns[k], list[k], null);
    caps.release(conns[k], null);
  }
  return Number(process.hrtime.bigint() - start) / PAIRS;
}

function sharedPairs(list: string[], table: SharedClientTable): number {
  const caps = new ClientCaps<object>();
  const conns = list.map(() => ({}));
  const start = process.hrtime.bigint();
  for (let i = 0, k = 0; i < PAIRS; i++, k = k + 1 === list.length ? 0 : k + 1) {
    if (caps.take(table, list[k], CAP) === 0) continue;
    caps.admit(conns[k], list[k], table);
    caps.release(conns[k], table);
  }
  return Number(process.hrtime.bigint() - start) / PAIRS;
}

interface ThreadWork { table: SharedArrayBuffer; barrier: SharedArrayBuffer; column: number; clients: number }

if (!isMainThread) {
  const work = workerData as ThreadWork;
  const table = new SharedClientTable(work.table, work.column);
  const barrier = new Int32Array(work.barrier);
  const list = addresses(work.clients);
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    if (Atomics.add(barrier, 0, 1) % 2 === 1) Atomics.notify(barrier, 0);
    else Atomics.wait(barrier, 0, Atomics.load(barrier, 0));
    best = Math.min(best, sharedPairs(list, table));
  }
  parentPort!.postMessage(best);
} else {
  console.log(`node ${process.version}, load average ${loadavg()[0].toFixed(1)}; ns per admit+release, best of ${RUNS} x ${PAIRS}`);
  for (const clients of [1, 1_000, 10_000]) {
    const list = addresses(clients);
    const table = new SharedClientTable(clientTableBuffer(slotsFor(20_000), 2), 0);
    let map = Infinity;
    let shared = Infinity;
    for (let r = 0; r < RUNS; r++) {
      map = Math.min(map, mapPairs(list));
      shared = Math.min(shared, sharedPairs(list, table));
    }
    console.log(`one thread, ${clients} addresses: Map ${map.toFixed(1)}  shared table ${shared.toFixed(1)}`);
  }
  for (const clients of [1, 1_000]) {
    const table = clientTableBuffer(slotsFor(20_000), 2);
    const barrier = new SharedArrayBuffer(4);
    const workers = [0, 1].map((column) => new Worker(new URL(import.meta.url), { workerData: { table, barrier, column, clients } satisfies ThreadWork }));
    const results = await Promise.all(workers.map(async (w) => (await once(w, 'message'))[0] as number));
    console.log(`two threads at once, ${clients} addresses: shared table ${results.map((n) => n.toFixed(1)).join(' / ')}`);
  }
}

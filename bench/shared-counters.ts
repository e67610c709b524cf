// Micro-benchmark of the shared counters (src/runtime/shared-counters.ts) against the plain
// `member.active++` path they are meant to replace (issue 14): ns per acquire+release pair.
// Run: npx node bench/shared-counters.ts
//
// 1. One thread: a real Member's `full` check and active++ / active-- (as Pool.acquireMember and
//    Pool.release do), against SharedCounters.acquire(slot, limit) / release(slot), over 16
//    members in turn; with a limit (the compare-and-swap loop) and without (one atomic add); and
//    the same over a growable SharedArrayBuffer (why CounterSlots allocates a fixed one).
// 2. Two threads at once (worker_threads), each timing its own pairs: on the same slot (one
//    member, every connection counted by both), on neighbouring slots (two members whose counts
//    share a cache line) and on slots a cache line apart.
// Best of RUNS, the variants alternating within each run, so a disturbance hits all alike.

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { Member } from '../src/runtime/member.ts';
import { RuntimeEvents } from '../src/runtime/events.ts';
import { SharedCounters } from '../src/runtime/shared-counters.ts';

const MEMBERS = 16;
const PAIRS = 2_000_000;
const RUNS = 7;

interface ThreadWork {
  counts: SharedArrayBuffer;
  barrier: SharedArrayBuffer;
  slot: number;
  limit: number;
  runs: number;
}

/** ns per pair, best of `runs`, the two threads starting each run together. */
function threadLoop(work: ThreadWork): number {
  const counters = new SharedCounters(work.counts);
  const barrier = new Int32Array(work.barrier);
  const { slot, limit } = work;
  let best = Infinity;
  for (let r = 0; r < work.runs; r++) {
    // wait for the other thread: both arrive, then both go
    if (Atomics.add(barrier, 0, 1) % 2 === 1) Atomics.notify(barrier, 0);
    else Atomics.wait(barrier, 0, Atomics.load(barrier, 0));
    const start = process.hrtime.bigint();
    for (let i = 0; i < PAIRS; i++) {
      if (counters.acquire(slot, limit)) counters.release(slot);
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / PAIRS);
  }
  return best;
}

if (!isMainThread) {
  parentPort!.postMessage(threadLoop(workerData as ThreadWork));
} else {
  await main();
}

function members(): Member[] {
  const events = new RuntimeEvents();
  return Array.from({ length: MEMBERS }, (_, i) => new Member('p', {
    address: { host: '10.0.0.1', port: 8000 + i, ip: '10.0.0.1' }, id: `m${i}`, weight: 1, maxConnections: 1000, backup: false, health: null,
  }, events));
}

function plainPairs(list: Member[]): number {
  let refused = 0;
  for (let i = 0; i < PAIRS; i++) {
    const m = list[i & (MEMBERS - 1)];
    if (m.full) {
      refused++;
      continue;
    }
    m.active++;
    m.active--;
  }
  return refused;
}

function sharedPairs(counters: SharedCounters, list: Member[], limited: boolean): number {
  let refused = 0;
  for (let i = 0; i < PAIRS; i++) {
    const slot = i & (MEMBERS - 1);
    if (!counters.acquire(slot, limited ? list[slot].maxConnections : 0)) {
      refused++;
      continue;
    }
    counters.release(slot);
  }
  return refused;
}

function time(run: () => number): number {
  const start = process.hrtime.bigint();
  if (run() !== 0) throw new Error('a pair was refused');
  return Number(process.hrtime.bigint() - start) / PAIRS;
}

async function twoThreads(slots: [number, number], limit: number): Promise<number[]> {
  const counts = new SharedArrayBuffer(64 * 4);
  const barrier = new SharedArrayBuffer(4);
  const workers = slots.map((slot) => new Worker(new URL(import.meta.url), { workerData: { counts, barrier, slot, limit, runs: RUNS } satisfies ThreadWork }));
  return Promise.all(workers.map(async (w) => {
    const exit = once(w, 'exit');
    const [ns] = (await once(w, 'message')) as [number];
    await exit;
    return ns;
  }));
}

async function main(): Promise<void> {
  const list = members();
  const counters = new SharedCounters(new SharedArrayBuffer(MEMBERS * 4));
  const growable = new SharedCounters(new SharedArrayBuffer(MEMBERS * 4, { maxByteLength: 65_536 * 4 }));
  const variants: [string, () => number][] = [
    ['plain: member.full, active++ / active--', () => plainPairs(list)],
    ['shared: acquire(slot, 1000) / release(slot)', () => sharedPairs(counters, list, true)],
    ['shared: acquire(slot, 0) / release(slot)', () => sharedPairs(counters, list, false)],
    ['shared, growable buffer: acquire(slot, 1000)', () => sharedPairs(growable, list, true)],
  ];
  const best = variants.map(() => Infinity);
  for (const [, run] of variants) time(run); // warm-up
  for (let r = 0; r < RUNS; r++) {
    variants.forEach(([, run], v) => {
      best[v] = Math.min(best[v], time(run));
    });
  }
  console.log(`acquire+release, ns per pair, best of ${RUNS} x ${PAIRS.toLocaleString('en')} pairs, node ${process.version}, ${cpus().length} cores, load average ${loadavg()[0].toFixed(1)}\n`);
  console.log('one thread');
  variants.forEach(([name], v) => console.log(`  ${name.padEnd(46)} ${best[v].toFixed(1).padStart(6)} ns  (${(best[v] / best[0]).toFixed(1)}x plain)`));

  console.log('\ntwo threads at once, acquire(slot, 1000) / release(slot), each thread\'s ns per pair');
  for (const [name, slots] of [['same slot', [0, 0]], ['neighbouring slots (one cache line)', [0, 1]], ['slots a cache line apart', [0, 16]]] as const) {
    const ns = await twoThreads([slots[0], slots[1]], 1000);
    console.log(`  ${name.padEnd(46)} ${ns.map((n) => `${n.toFixed(1).padStart(6)} ns`).join('  ')}`);
  }
}

// Micro-benchmark of the pool queue across worker threads (src/runtime/shared-queue.ts, issue 14).
// Run: npx node bench/worker-queue.ts [rounds]
//
// 1. What it adds to a release, one thread, nobody queued: ns per Pool.acquire + Pool.release
//    pair of a real Pool (one member, max-connections 1000) in one loop (no shared memory), with
//    shared counts only (the workers before the shared queue), and with shared counts and the
//    shared queue (now). Best of RUNS, the variants alternating.
// 2. Wake latency: a place freed on thread A (the bench's) reaching a client queued on thread B
//    (a worker): from just before A's Pool.release to B's waiter getting the member, median and
//    p99 over `rounds` rounds; beside it, the same hand-off by postMessage (the other design: the
//    releasing thread sends the place to a thread with clients queued), and the one-loop case
//    (release and waiter in one thread).

import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { PoolConfig } from '../src/config/types.ts';
import { PASSIVE_DEFAULTS } from '../src/config/passive-schema.ts';
import { RuntimeEvents } from '../src/runtime/events.ts';
import type { Member } from '../src/runtime/member.ts';
import { Pool } from '../src/runtime/pool.ts';
import { SharedCounters } from '../src/runtime/shared-counters.ts';
import { SharedQueue } from '../src/runtime/shared-queue.ts';

const PAIRS = 2_000_000;
const RUNS = 7;
const ROUNDS = Number(process.argv[2] ?? 2000);

/** The control words between the two threads of part 2. */
const STATE = 0;
const HELD = 1;
const QUEUED = 2;
const SERVED = 3;
const POSTED = 4;

interface WakeWork {
  counts: SharedArrayBuffer;
  queues: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** [0]: A's time before the release (or the post), [1]: B's time at the hand-over */
  times: SharedArrayBuffer;
  rounds: number;
}

function poolConfig(maxConnections: number): PoolConfig {
  return {
    algorithm: 'round-robin',
    members: [{ address: { host: '10.0.0.1', port: 80, ip: '10.0.0.1' }, id: 'm', weight: 1, maxConnections, backup: false, health: null }],
    queue: { max: 1000, timeout: 60_000 },
    health: { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'up' },
    slowStart: 0,
    onMemberDown: null,
    passiveHealth: PASSIVE_DEFAULTS,
  };
}

/** A pool of one member; its count at slot 0 of `counts` and its queue in block 0 of `queues`, as thread `self` of 2, when given. */
function makePool(maxConnections: number, counts: SharedArrayBuffer | null, queues: SharedArrayBuffer | null, self = 0): Pool {
  const pool = new Pool('p', poolConfig(maxConnections), new RuntimeEvents());
  if (counts !== null) pool.members[0].shareCount(new SharedCounters(counts), 0);
  if (queues !== null) pool.shareQueue(new SharedQueue(queues, 0, 2, self));
  return pool;
}

function pairs(pool: Pool): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < PAIRS; i++) {
    const m = pool.acquire(0, null);
    if (m === undefined) throw new Error('refused');
    pool.release(m, 0, 0);
  }
  return Number(process.hrtime.bigint() - start) / PAIRS;
}

/** Thread B: queues a client each time A holds the place, and stamps the time its waiter gets it. */
async function threadB(work: WakeWork): Promise<void> {
  const control = new Int32Array(work.control);
  const times = new BigInt64Array(work.times);
  const pool = makePool(1, work.counts, work.queues, 1);
  const served = (member: Member | undefined): void => {
    times[1] = process.hrtime.bigint();
    if (member === undefined) throw new Error('queue timeout');
    pool.release(member, 0, 0);
    Atomics.store(control, STATE, SERVED);
    Atomics.notify(control, STATE);
  };
  parentPort!.on('message', () => {
    times[1] = process.hrtime.bigint();
    Atomics.store(control, STATE, SERVED);
    Atomics.notify(control, STATE);
  });
  for (let r = 0; r < work.rounds; r++) {
    for (let now = Atomics.load(control, STATE); now !== HELD; now = Atomics.load(control, STATE)) await Atomics.waitAsync(control, STATE, now).value;
    if (pool.acquire(0, null) !== undefined) throw new Error('the place was free');
    pool.enqueue(0, served);
    // the queue's first check and its wait start in a microtask: said queued after it
    await new Promise((resolve) => setImmediate(resolve));
    Atomics.store(control, STATE, QUEUED);
    Atomics.notify(control, STATE);
    await Atomics.waitAsync(control, STATE, QUEUED).value;
  }
  // the postMessage rounds: only the message handler answers
  await new Promise((resolve) => parentPort!.once('close', resolve));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function summary(ns: number[]): string {
  const sorted = [...ns].sort((a, b) => a - b);
  return `median ${(percentile(sorted, 0.5) / 1000).toFixed(1).padStart(6)} µs  p99 ${(percentile(sorted, 0.99) / 1000).toFixed(1).padStart(7)} µs`;
}

/** Part 2, A's side: `rounds` of hold, wait until B queued, release; then the postMessage rounds. */
async function wake(): Promise<{ shared: number[]; posted: number[] }> {
  const work: WakeWork = {
    counts: new SharedArrayBuffer(64),
    queues: new SharedArrayBuffer(64 * 4),
    control: new SharedArrayBuffer(64),
    times: new SharedArrayBuffer(16),
    rounds: ROUNDS,
  };
  const control = new Int32Array(work.control);
  const times = new BigInt64Array(work.times);
  const pool = makePool(1, work.counts, work.queues, 0);
  const worker = new Worker(new URL(import.meta.url), { workerData: work });
  await once(worker, 'online');
  const shared: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const member = pool.acquire(0, null)!;
    Atomics.store(control, STATE, HELD);
    Atomics.notify(control, STATE);
    Atomics.wait(control, STATE, HELD);
    times[0] = process.hrtime.bigint();
    pool.release(member, 0, 0);
    Atomics.wait(control, STATE, QUEUED);
    shared.push(Number(times[1] - times[0]));
    Atomics.store(control, STATE, 0);
    Atomics.notify(control, STATE);
  }
  const posted: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    Atomics.store(control, STATE, POSTED);
    times[0] = process.hrtime.bigint();
    worker.postMessage(r);
    Atomics.wait(control, STATE, POSTED);
    posted.push(Number(times[1] - times[0]));
  }
  const exit = once(worker, 'exit');
  await worker.terminate();
  await exit;
  return { shared, posted };
}

/** The one loop: the waiter and the release in one thread (the release serves it at once). */
function oneLoop(): number[] {
  const pool = makePool(1, null, null);
  const ns: number[] = [];
  let at = 0n;
  const served = (member: Member | undefined): void => {
    ns.push(Number(process.hrtime.bigint() - at));
    pool.release(member!, 0, 0);
  };
  for (let r = 0; r < ROUNDS; r++) {
    const member = pool.acquire(0, null)!;
    pool.enqueue(0, served);
    at = process.hrtime.bigint();
    pool.release(member, 0, 0);
  }
  return ns;
}

async function main(): Promise<void> {
  const variants: [string, Pool][] = [
    ['one loop (no shared memory)', makePool(1000, null, null)],
    ['shared counts, queue per thread (before)', makePool(1000, new SharedArrayBuffer(64), null)],
    ['shared counts and shared queue (now)', makePool(1000, new SharedArrayBuffer(64), new SharedArrayBuffer(64 * 4))],
  ];
  const best = variants.map(() => Infinity);
  for (const [, pool] of variants) pairs(pool); // warm-up
  for (let r = 0; r < RUNS; r++) variants.forEach(([, pool], v) => { best[v] = Math.min(best[v], pairs(pool)); });
  console.log(`node ${process.version}, ${cpus().length} cores, load average ${loadavg()[0].toFixed(1)}\n`);
  console.log(`Pool.acquire + Pool.release, nobody queued, ns per pair, best of ${RUNS} x ${PAIRS.toLocaleString('en')}`);
  variants.forEach(([name], v) => console.log(`  ${name.padEnd(44)} ${best[v].toFixed(1).padStart(6)} ns  (+${(best[v] - best[0]).toFixed(1)} ns)`));

  const { shared, posted } = await wake();
  console.log(`\nwake latency, ${ROUNDS} rounds: a place freed on one thread to a client queued on another`);
  console.log(`  ${'shared queue: release -> waitAsync woken'.padEnd(44)} ${summary(shared)}`);
  console.log(`  ${'hand-off by postMessage (for comparison)'.padEnd(44)} ${summary(posted)}`);
  console.log(`  ${'one loop: release serves its own queue'.padEnd(44)} ${summary(oneLoop())}`);
}

if (isMainThread) await main();
else await threadB(workerData as WakeWork);

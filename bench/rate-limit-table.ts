// Micro-benchmark of the rate-limit table (src/runtime/shared-rate-table.ts): ns per request
// checked, through proxy/rate-limits.ts's requestWait (what an http request pays: the address
// read to 16 bytes and masked, the spin lock, the probe, the bucket's refill and take), over 1,
// 1,000 and 10,000 client addresses, and keyed by a header (hashing the value); then two threads
// at once on one table, each timing its own. Best of RUNS.
// Run: node_modules/.bin/node bench/rate-limit-table.ts

import { once } from 'node:events';
import { loadavg } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { requestWait } from '../src/proxy/rate-limits.ts';
import { RateLimits } from '../src/runtime/rate-limits.ts';
import type { ServiceConfig } from '../src/config/types.ts';
import type { RateLimitConfig } from '../src/config/rate-limit-types.ts';

const REQUESTS = 1_000_000;
const RUNS = 5;

function addresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
}

/** A service's limits, never refusing (a million a second, a burst of a billion). */
function limits(byHeader: boolean): RateLimits {
  const rateLimit: RateLimitConfig = {
    requests: 1_000, burst: 1e9, connectionRate: 0, connectionBurst: 0,
    by: byHeader ? { kind: 'header', name: 'x-api-key' } : { kind: 'client' }, ipv4Mask: 32, ipv6Mask: 64, tableSize: 65_536,
  };
  return RateLimits.of({ rateLimit, http: null } as unknown as ServiceConfig, null)!;
}

function run(l: RateLimits, list: string[], fields: string[]): number {
  let refused = 0;
  const start = process.hrtime.bigint();
  for (let i = 0, k = 0; i < REQUESTS; i++, k = k + 1 === list.length ? 0 : k + 1) {
    if (requestWait(l, null, fields[k], list[k], Date.now()) > 0) refused++;
  }
  const ns = Number(process.hrtime.bigint() - start) / REQUESTS;
  if (refused > 0) throw new Error(`${refused} refused`);
  return ns;
}

/** The same buckets in a plain Map keyed by the address text (what one loop could keep instead): no masks, no bound, no expiry. */
function mapRun(list: string[]): number {
  const buckets = new Map<string, { tokens: number; last: number }>();
  const rate = 1_000;
  const burst = 1e9;
  let refused = 0;
  const start = process.hrtime.bigint();
  for (let i = 0, k = 0; i < REQUESTS; i++, k = k + 1 === list.length ? 0 : k + 1) {
    const now = Date.now();
    let b = buckets.get(list[k]);
    if (b === undefined) buckets.set(list[k], (b = { tokens: burst, last: now }));
    else if (now > b.last) b.tokens = Math.min(burst, b.tokens + (now - b.last) * rate);
    b.last = now;
    if (b.tokens >= 1) b.tokens--;
    else refused++;
  }
  const ns = Number(process.hrtime.bigint() - start) / REQUESTS;
  if (refused > 0) throw new Error(`${refused} refused`);
  return ns;
}

/** Date.now() alone, which every check reads once. */
function clock(): number {
  let x = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < REQUESTS; i++) x += Date.now() & 1;
  const ns = Number(process.hrtime.bigint() - start) / REQUESTS;
  return x < 0 ? 0 : ns;
}

interface ThreadWork { tables: [string, SharedArrayBuffer][]; index: number; clients: number; barrier: SharedArrayBuffer }

if (!isMainThread) {
  const work = workerData as ThreadWork;
  const l = limits(false);
  l.share(new Map(work.tables), work.index);
  const list = addresses(work.clients);
  const fields = list.map(() => 'host: x\r\n');
  const barrier = new Int32Array(work.barrier);
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    if (Atomics.add(barrier, 0, 1) % 2 === 1) Atomics.notify(barrier, 0);
    else Atomics.wait(barrier, 0, Atomics.load(barrier, 0));
    best = Math.min(best, run(l, list, fields));
  }
  parentPort!.postMessage(best);
} else {
  console.log(`node ${process.version}, load average ${loadavg()[0].toFixed(1)}; ns per request checked, best of ${RUNS} x ${REQUESTS}`);
  let now = Infinity;
  for (let r = 0; r < RUNS; r++) now = Math.min(now, clock());
  console.log(`Date.now() alone: ${now.toFixed(1)}`);
  for (const clients of [1, 1_000, 10_000]) {
    const list = addresses(clients);
    const fields = list.map(() => 'host: x\r\nuser-agent: bench\r\n');
    const l = limits(false);
    let best = Infinity;
    let map = Infinity;
    for (let r = 0; r < RUNS; r++) {
      best = Math.min(best, run(l, list, fields));
      map = Math.min(map, mapRun(list));
    }
    console.log(`one thread, by client, ${clients} addresses: table ${best.toFixed(1)}  (a plain Map of buckets: ${map.toFixed(1)})`);
  }
  for (const keys of [1, 1_000]) {
    const list = addresses(keys);
    const fields = list.map((_, i) => `host: x\r\nuser-agent: bench\r\nx-api-key: key-${i}-0123456789abcdef\r\n`);
    const l = limits(true);
    let best = Infinity;
    for (let r = 0; r < RUNS; r++) best = Math.min(best, run(l, list, fields));
    console.log(`one thread, by header, ${keys} keys: ${best.toFixed(1)}`);
  }
  for (const clients of [1, 1_000]) {
    const l = limits(false);
    const barrier = new SharedArrayBuffer(4);
    const workers = [0, 1].map((index) => new Worker(new URL(import.meta.url), { workerData: { tables: l.tables(), index, clients, barrier } satisfies ThreadWork }));
    const results = await Promise.all(workers.map(async (w) => (await once(w, 'message'))[0] as number));
    console.log(`two threads at once, ${clients} addresses, one table: ${results.map((n) => n.toFixed(1)).join(' / ')}`);
  }
}

// Issue 14's stick tables across worker threads: what a new sticky client costs in messages
// between the threads, and how long until its entry is where the next connection may land.
// A real furiwake with `workers: 2`, a tcp service with source-ip persistence in front of one
// member; each client connects from its own loopback address (127.x.y.z), reads the member's
// greeting and closes. Measured from the main thread (the clients run there one at a time, in a
// thread of their own when many at once):
// - lag to the main thread: from the client's connect() to its entry arriving in the main
//   thread's table (the worker accepts, picks, and sends its batch at the next turn of its loop);
// - the main thread's hop on to the other worker: bounded by the round trip of a message to that
//   worker (a worker handles messages in order), timed right after the relay sent the entry;
// - messages each way per new client, at a low and a high rate of new clients.
// Run by hand: `node bench/worker-sticks.ts [clients] [concurrency]` (default 20000, 64).

import net from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { once } from 'node:events';
import { Furiwake } from '../src/app.ts';
import { createLogger } from '../src/log.ts';
import type { SyncMessage } from '../src/ha/sync-frame.ts';
import { pool, single } from '../test/helpers/config.ts';
import { startTcpServer } from '../test/helpers/servers.ts';

const CLIENTS = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = Number(process.argv[3] ?? 64);
/** ms, comparable between threads */
const now = (): number => performance.timeOrigin + performance.now();

/** a new loopback address each time (none ending in .0 or .255) after `n` */
function addressAfter(n: number): { n: number; address: string } {
  do n++;
  while ((n & 255) === 0 || (n & 255) === 255);
  return { n, address: `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` };
}

/** One client from `from`: connect, read the greeting, close; resolves with when it started. */
function client(port: number, from: string): Promise<number> {
  const t0 = now();
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    socket.once('data', () => socket.end());
    socket.on('error', () => resolve(t0));
    socket.on('close', () => resolve(t0));
  });
}

if (!isMainThread) {
  // the load: many clients at once, in a thread of their own so the main thread only relays
  const { port, clients, concurrency, after } = workerData as { port: number; clients: number; concurrency: number; after: number };
  let n = after;
  let made = 0;
  const started: [string, number][] = [];
  const t0 = now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (made < clients) {
      made++;
      const next = addressAfter(n);
      n = next.n;
      started.push([next.address, await client(port, next.address)]);
    }
  }));
  parentPort!.postMessage({ started, seconds: (now() - t0) / 1000 });
  process.exit(0);
}

const member = await startTcpServer('m');
const app = await Furiwake.start({
  ...single('tcp', pool('round-robin', [{ port: member.port, id: 'm' }]), {
    persistence: { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 600_000, maxEntries: 1_000_000 },
  }),
  global: { shutdownGrace: 0, logLevel: 'warn', workers: 2 },
}, createLogger('warn'));
const port = app.address('svc').port;
const relay = app.workers!.sticks;

/** when each key first reached the main thread's table */
const arrived = new Map<string, number>();
const take = relay.fromWorker.bind(relay);
relay.fromWorker = (index: number, messages: readonly SyncMessage[]) => {
  const at = now();
  for (const m of messages) if (m.type === 'stick') for (const e of m.entries) if (!arrived.has(e.key)) arrived.set(e.key, at);
  take(index, messages);
};
const lagsOf = (started: Iterable<[string, number]>): number[] => [...started].flatMap(([key, t0]) => (arrived.has(key) ? [arrived.get(key)! - t0] : []));

let next = 0;

function pct(values: number[], p: number): string {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length === 0 ? '-' : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(3);
}

function counts() {
  return structuredClone(relay.counts);
}

// 1. one client at a time, the process otherwise idle
const hops: number[] = [];
const sequential: [string, number][] = [];
const before1 = counts();
for (let i = 0; i < 500; i++) {
  const a = addressAfter(next);
  next = a.n;
  sequential.push([a.address, await client(port, a.address)]);
  await new Promise((resolve) => setImmediate(resolve));
  // the relay sends at the next turn: then a round trip to the workers bounds the hop
  while (!relay.idle) await new Promise((resolve) => setImmediate(resolve));
  const t0 = performance.now();
  await app.workers!.stats();
  hops.push(performance.now() - t0);
}
const after1 = counts();
const lags = lagsOf(sequential);
console.log(`one client at a time (500): lag to the main thread p50 ${pct(lags, 50)} ms, p99 ${pct(lags, 99)} ms; main thread -> other worker <= p50 ${pct(hops, 50)} ms, p99 ${pct(hops, 99)} ms (message round trip)`);
console.log(`  per new client: ${((after1.fromWorkers.messages - before1.fromWorkers.messages) / 500).toFixed(2)} messages worker -> main, ${((after1.toWorkers.messages - before1.toWorkers.messages) / 500).toFixed(2)} main -> workers`);

// 2. many at once, from a thread of their own
const before2 = counts();
const load = new Worker(new URL(import.meta.url), { workerData: { port, clients: CLIENTS, concurrency: CONCURRENCY, after: next } });
const [{ started, seconds }] = await once(load, 'message') as [{ started: [string, number][]; seconds: number }];
// every worker has sent what it had once it answers; then the relay has taken it
await app.workers!.stats();
while (!relay.idle) await new Promise((resolve) => setImmediate(resolve));
const after2 = counts();
const n = CLIENTS;
const lags2 = lagsOf(started);
console.log(`${n} new clients, ${CONCURRENCY} at a time: ${(n / seconds).toFixed(0)} clients/s; ${lags2.length} entries timed; lag to the main thread p50 ${pct(lags2, 50)} ms, p99 ${pct(lags2, 99)} ms`);
console.log(`  per new client: ${((after2.fromWorkers.messages - before2.fromWorkers.messages) / n).toFixed(3)} messages worker -> main (${((after2.fromWorkers.entries - before2.fromWorkers.entries) / n).toFixed(2)} entries), ${((after2.toWorkers.messages - before2.toWorkers.messages) / n).toFixed(3)} messages main -> workers (${((after2.toWorkers.entries - before2.toWorkers.entries) / n).toFixed(2)} entries)`);
console.log(`  main thread's table: ${app.runtime.services.get('svc')!.stickTable!.size} entries`);

await app.stop(0);
await member.close();

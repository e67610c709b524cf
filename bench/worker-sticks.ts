// Issue 14's stick tables across worker threads: what a new sticky client costs in messages
// between the threads, and how long until its entry is where the next connection may land.
// A real furiwake with `workers: 2`, a tcp service with source-ip persistence in front of one
// member; each client connects from its own loopback address (127.x.y.z), reads the member's
// greeting and closes. Measured from the main thread (which also runs the clients):
// - lag to the main thread: from the client's connect() to its entry arriving in the main
//   thread's table (the worker accepts, picks, and sends its batch at the next turn of its loop);
// - the main thread's hop on to the other worker: bounded by the round trip of a message to that
//   worker (a worker handles messages in order), timed right after the relay sent the entry;
// - messages each way per new client, at a low and a high rate of new clients.
// Run by hand: `node bench/worker-sticks.ts [clients] [concurrency]` (default 20000, 64).

import net from 'node:net';
import { Furiwake } from '../src/app.ts';
import { createLogger } from '../src/log.ts';
import type { SyncMessage } from '../src/ha/sync-frame.ts';
import { pool, single } from '../test/helpers/config.ts';
import { startTcpServer } from '../test/helpers/servers.ts';

const CLIENTS = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = Number(process.argv[3] ?? 64);

const member = await startTcpServer('m');
const app = await Furiwake.start({
  ...single('tcp', pool('round-robin', [{ port: member.port, id: 'm' }]), {
    persistence: { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 600_000, maxEntries: 1_000_000 },
  }),
  global: { shutdownGrace: 0, logLevel: 'warn', workers: 2 },
}, createLogger('warn'));
const port = app.address('svc').port;
const relay = app.workers!.sticks;

const started = new Map<string, number>();
const lags: number[] = [];
const take = relay.fromWorker.bind(relay);
relay.fromWorker = (index: number, messages: readonly SyncMessage[]) => {
  const at = performance.now();
  for (const m of messages) if (m.type === 'stick') for (const e of m.entries) {
    const t0 = started.get(e.key);
    if (t0 !== undefined) lags.push(at - t0);
    started.delete(e.key);
  }
  take(index, messages);
};

let next = 0;
/** a new loopback address each time (none ending in .0 or .255) */
function address(): string {
  do next++;
  while ((next & 255) === 0 || (next & 255) === 255);
  return `127.${(next >> 16) & 255}.${(next >> 8) & 255}.${next & 255}`;
}

function client(from: string): Promise<void> {
  return new Promise((resolve) => {
    started.set(from, performance.now());
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    socket.once('data', () => socket.end());
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}

function pct(values: number[], p: number): string {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length === 0 ? '-' : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(3);
}

function counts() {
  return structuredClone(relay.counts);
}

// 1. one client at a time, the process otherwise idle
const hops: number[] = [];
const before1 = counts();
for (let i = 0; i < 500; i++) {
  await client(address());
  await new Promise((resolve) => setImmediate(resolve));
  // the relay sends at the next turn: then a round trip to the workers bounds the hop
  while (!relay.idle) await new Promise((resolve) => setImmediate(resolve));
  const t0 = performance.now();
  await app.workers!.stats();
  hops.push(performance.now() - t0);
}
const after1 = counts();
console.log(`one client at a time (500): lag to the main thread p50 ${pct(lags, 50)} ms, p99 ${pct(lags, 99)} ms; main thread -> other worker <= p50 ${pct(hops, 50)} ms, p99 ${pct(hops, 99)} ms (message round trip)`);
console.log(`  per new client: ${((after1.fromWorkers.messages - before1.fromWorkers.messages) / 500).toFixed(2)} messages worker -> main, ${((after1.toWorkers.messages - before1.toWorkers.messages) / 500).toFixed(2)} main -> workers`);

// 2. many at once
lags.length = 0;
const before2 = counts();
const t0 = performance.now();
let done = 0;
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  while (done < CLIENTS) {
    done++;
    await client(address());
  }
}));
const seconds = (performance.now() - t0) / 1000;
// every worker has sent what it had once it answers; then the relay has taken it
await app.workers!.stats();
while (!relay.idle) await new Promise((resolve) => setImmediate(resolve));
const after2 = counts();
const n = CLIENTS;
console.log(`${n} new clients, ${CONCURRENCY} at a time: ${(n / seconds).toFixed(0)} clients/s; ${lags.length} entries timed; lag to the main thread p50 ${pct(lags, 50)} ms, p99 ${pct(lags, 99)} ms`);
console.log(`  per new client: ${((after2.fromWorkers.messages - before2.fromWorkers.messages) / n).toFixed(3)} messages worker -> main (${((after2.fromWorkers.entries - before2.fromWorkers.entries) / n).toFixed(2)} entries), ${((after2.toWorkers.messages - before2.toWorkers.messages) / n).toFixed(3)} messages main -> workers (${((after2.toWorkers.entries - before2.toWorkers.entries) / n).toFixed(2)} entries)`);
console.log(`  main thread's table: ${app.runtime.services.get('svc')!.stickTable!.size} entries`);

await app.stop(0);
await member.close();

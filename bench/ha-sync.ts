// Issue 13's replication benchmark: how fast a peer absorbs stick entries over the ha sync link,
// and how far behind it is when clients arrive at a steady rate. Node A runs here, node B in a
// worker thread (its own event loop, as a peer host would have), both real furiwake instances
// joined by the real link on loopback. New clients are what the data plane records
// (`persistence.picked`), so the path measured is the one a new sticky client takes.
// Run by hand: `npm run bench:sync [rate] [seconds]` (default 10000 new clients/s for 10 s).

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Furiwake } from '../src/app.ts';
import type { Config } from '../src/config/types.ts';
import { createLogger } from '../src/log.ts';
import type { StickTable } from '../src/persistence/stick-table.ts';
import { pool, single } from '../test/helpers/config.ts';
import { freePort } from '../test/helpers/ports.ts';

const RATE = Number(process.argv[2] ?? 10_000);
const SECONDS = Number(process.argv[3] ?? 10);
const BURST = 200_000;
const KEY = 'bench-key-of-at-least-sixteen-characters';

function config(listen: number, peer: number): Config {
  const at = (port: number) => ({ host: '127.0.0.1', ip: '127.0.0.1', port });
  return {
    ...single('tcp', pool('round-robin', [{ port: 9, id: 'm1' }, { port: 10, id: 'm2' }]), {
      persistence: { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 600_000, maxEntries: 1_000_000 },
    }),
    ha: { vrrp: false, interface: '', routerId: 0, priority: 100, advert: 1000, preempt: true, peers: [], vips: null, sync: { listen: at(listen), peers: [at(peer)], key: KEY, tls: null }, conntrackSync: null },
  };
}

const now = (): number => performance.timeOrigin + performance.now();

if (!isMainThread) {
  // node B: report when each probe key arrives, and the table's size when asked
  const { listen, peer } = workerData as { listen: number; peer: number };
  const b = await Furiwake.start(config(listen, peer), createLogger('warn'));
  const table = b.runtime.services.get('svc')!.persistence!.table!;
  const adopt = table.adopt.bind(table);
  table.adopt = (key, member, expiresIn, resync) => {
    const taken = adopt(key, member, expiresIn, resync);
    if (key.startsWith('10.255.')) parentPort!.postMessage({ probe: key, at: now() });
    return taken;
  };
  parentPort!.on('message', async (m: string) => {
    if (m === 'size') parentPort!.postMessage({ size: table.size });
    if (m === 'stop') {
      await b.stop(0);
      parentPort!.close();
    }
  });
  parentPort!.postMessage({ ready: true });
} else {
  const portA = await freePort();
  const portB = await freePort();
  const a = await Furiwake.start(config(portA, portB), createLogger('warn'));
  const worker = new Worker(new URL(import.meta.url), { workerData: { listen: portB, peer: portA } });
  const replies: ((m: Record<string, number | string | boolean>) => void)[] = [];
  const probes = new Map<string, number>();
  const lags: number[] = [];
  worker.on('message', (m: Record<string, number | string | boolean>) => {
    if (typeof m.probe === 'string') {
      const sent = probes.get(m.probe);
      if (sent !== undefined) lags.push((m.at as number) - sent);
      return;
    }
    replies.shift()?.(m);
  });
  const ask = (what: string): Promise<Record<string, number | string | boolean>> => new Promise((resolve) => {
    replies.push(resolve);
    worker.postMessage(what);
  });
  await new Promise((resolve) => replies.push(resolve));
  while (a.haSync!.status().peers[0].connected !== true) await new Promise((r) => setTimeout(r, 20));
  const persistence = a.runtime.services.get('svc')!.persistence!;
  const members = [a.runtime.member('p', 'm1')!, a.runtime.member('p', 'm2')!];
  const sizeOfB = async (): Promise<number> => (await ask('size')).size as number;

  // 1. steady: RATE new clients a second, in 10 ms steps; a probe client every 100 ms
  let n = 0;
  const key = (i: number): string => `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
  const steps = SECONDS * 100;
  const perStep = RATE / 100;
  const cpu0 = process.cpuUsage();
  const start = now();
  for (let s = 0; s < steps; s++) {
    const due = start + s * 10;
    const wait = due - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (let i = 0; i < perStep; i++) persistence.picked(key(n++), members[n & 1]);
    if (s % 10 === 0) {
      const probe = `10.255.${(s / 10) >> 8}.${(s / 10) & 0xff}`;
      probes.set(probe, now());
      persistence.picked(probe, members[0]);
    }
  }
  const sent = n + probes.size;
  while ((await sizeOfB()) < sent) await new Promise((r) => setTimeout(r, 10));
  const steadyEnd = now();
  const cpu = process.cpuUsage(cpu0);
  lags.sort((x, y) => x - y);
  const pct = (p: number): string => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))].toFixed(1);
  console.log(`steady: ${RATE} new sticky clients/s for ${SECONDS} s (${sent} entries): all on the peer ${(steadyEnd - start - SECONDS * 1000).toFixed(0)} ms after the last was made`);
  console.log(`  lag (entry made on A -> applied on B), ${lags.length} probes: median ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${lags[lags.length - 1].toFixed(1)} ms`);
  console.log(`  node A's CPU for making and sending them: ${((cpu.user + cpu.system) / 1000 / SECONDS).toFixed(0)} ms per s`);

  // 2. burst: BURST new clients at once; how fast B absorbs them
  const before = await sizeOfB();
  const t0 = now();
  for (let i = 0; i < BURST; i++) persistence.picked(key(n++), members[n & 1]);
  const made = now();
  while ((await sizeOfB()) < before + BURST) await new Promise((r) => setTimeout(r, 5));
  const t1 = now();
  console.log(`burst: ${BURST} new entries made in ${(made - t0).toFixed(0)} ms; all on the peer after ${(t1 - t0).toFixed(0)} ms: ${Math.round(BURST / ((t1 - t0) / 1000))} entries/s absorbed`);

  const exited = new Promise((resolve) => worker.once('exit', resolve));
  worker.postMessage('stop');
  await exited;
  await a.stop(0);
}

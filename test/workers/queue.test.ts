// The pool queue across worker threads: a client queued on one worker is served when a place is
// freed on another, in the order clients came, with max-connections and queue.max holding for
// the whole process. Real servers and clients on loopback, workers: 2.

import assert from 'node:assert/strict';
import net from 'node:net';
import type http from 'node:http';
import { describe, it } from 'node:test';
import type { Furiwake } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';
import type { Pool } from '../../src/runtime/pool.ts';
import { startApp } from '../helpers/app.ts';
import { exchange, greeted } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';
import { bodyOf, httpConfig, startMember } from '../proxy/http/helpers.ts';
import { MAX_QUEUES, QueueSlots } from '../../src/workers/queue-slots.ts';

function withWorkers(config: Config, workers: number): Config {
  return { ...config, global: { ...config.global, workers } };
}

/** A client that may wait: its socket, and the first line it gets (null: closed without one). */
interface Client {
  socket: net.Socket;
  line: Promise<string | null>;
}

function client(port: number): Client {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const line = new Promise<string | null>((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += String(chunk);
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
    });
    socket.on('error', () => resolve(null));
    socket.on('close', () => resolve(null));
  });
  return { socket, line };
}

/** Live connections (queued ones too) in each worker's table. */
async function perWorker(app: Furiwake): Promise<number[]> {
  return (await app.workers!.stats()).map((s) => s.connections);
}

interface Setup {
  app: Furiwake;
  port: number;
  /** the main thread's pool: its `queuedEverywhere` counts the workers' waiting clients */
  pool: Pool;
  member: TcpServer;
  /** the client holding the member's one place, and the worker that holds it */
  holder: net.Socket;
  holderWorker: number;
}

/**
 * One member at max-connections 1, its place held by a client; `queue` as the pool's. `reloaded`:
 * the pool is `q`, which a reload brings in place of the first config's `p`.
 */
async function held(queue: { max: number; timeout: number }, reloaded = false): Promise<Setup> {
  const member = await startTcpServer('m');
  const limited = pool('round-robin', [{ port: member.port, id: 'm', maxConnections: 1 }], queue);
  const first = withWorkers(single('tcp', reloaded ? pool('round-robin', [{ port: member.port, id: 'm' }]) : limited), 2);
  const app = await startApp(first);
  if (reloaded) assert.deepEqual(await app.reload({ ...first, services: { svc: { ...first.services.svc, pool: 'q' } }, pools: { q: limited } }), []);
  const port = app.address('svc').port;
  const { socket: holder, line } = await greeted(port);
  assert.equal(line, 'm');
  const holderWorker = (await perWorker(app)).indexOf(1);
  assert.notEqual(holderWorker, -1);
  return { app, port, pool: app.runtime.pools.get(reloaded ? 'q' : 'p')!, member, holder, holderWorker };
}

/**
 * Queues one more client on worker `on`: clients that land on the other worker leave again
 * (the kernel, not we, chooses the worker). `before`: clients queued already, per worker.
 */
async function queueOn(s: Setup, on: number, before: number[]): Promise<Client> {
  const queued = before[0] + before[1];
  for (;;) {
    const c = client(s.port);
    await until(() => s.pool.queuedEverywhere === queued + 1);
    const now = await perWorker(s.app);
    const holding = now.map((n, w) => n - (w === s.holderWorker ? 1 : 0));
    if (holding[on] === before[on] + 1) return c;
    // a reset: a queued client that only half-closes keeps its place
    c.socket.resetAndDestroy();
    await until(() => s.pool.queuedEverywhere === queued);
  }
}

// bounded: queueOn() tries clients until one lands on the worker it wants, and would spin for ever if none could
describe('workers: 2, the queue', { timeout: 120_000 }, () => {
  it('serves a client queued on one worker when the other frees a place, oldest client first', async () => {
    const s = await held({ max: 100, timeout: 10_000 });
    const other = 1 - s.holderWorker;
    const before = [0, 0];
    // the older client on the other worker, a younger one on the holder's
    const older = await queueOn(s, other, before);
    before[other]++;
    const younger = await queueOn(s, s.holderWorker, before);
    // the holder's worker frees the place: the older client, on the other worker, gets it
    s.holder.destroy();
    assert.equal(await older.line, 'm');
    assert.equal(s.pool.queuedEverywhere, 1);
    // the other worker frees it: the younger client, on the first worker, gets it
    older.socket.destroy();
    assert.equal(await younger.line, 'm');
    assert.equal(s.pool.queuedEverywhere, 0);
    assert.equal(s.member.peak, 1);
    assert.equal(s.member.accepted, 3);
    younger.socket.destroy();
  });

  it('keeps max-connections across workers while many clients queued on both are served', async () => {
    const s = await held({ max: 100, timeout: 30_000 });
    const clients = Array.from({ length: 20 }, () => client(s.port));
    await until(() => s.pool.queuedEverywhere === 20);
    const spread = await perWorker(s.app);
    assert.ok(spread.every((n) => n > 0), `one worker queued all: ${spread.join(', ')}`);
    s.holder.destroy();
    // each served client leaves at once, freeing the place for the next, whichever worker holds it
    await Promise.all(clients.map(async (c) => {
      assert.equal(await c.line, 'm');
      c.socket.destroy();
    }));
    assert.equal(s.member.peak, 1);
    assert.equal(s.member.accepted, 21);
    await until(() => s.pool.queuedEverywhere === 0);
  });

  it('counts queue.max over both workers: a client finds the queue full whichever worker takes it', async () => {
    const s = await held({ max: 1, timeout: 30_000 });
    const waiting = client(s.port);
    await until(() => s.pool.queuedEverywhere === 1);
    const turnedAway = await Promise.all(Array.from({ length: 8 }, () => exchange(s.port)));
    for (const t of turnedAway) assert.deepEqual([t.ending, t.data.length], ['end', 0]);
    s.holder.destroy();
    assert.equal(await waiting.line, 'm');
    waiting.socket.destroy();
  });

  it('still closes clients whose queue timeout passes, and forgets them', async () => {
    const s = await held({ max: 100, timeout: 200 });
    const timedOut = await Promise.all(Array.from({ length: 6 }, () => exchange(s.port)));
    for (const t of timedOut) assert.deepEqual([t.ending, t.data.length], ['end', 0]);
    assert.equal(s.pool.queuedEverywhere, 0);
    assert.equal(s.member.peak, 1);
    s.holder.destroy();
  });

  it('shares the queue of a pool that a reload brings in', async () => {
    const s = await held({ max: 100, timeout: 10_000 }, true);
    const waiting = await queueOn(s, 1 - s.holderWorker, [0, 0]);
    s.holder.destroy();
    assert.equal(await waiting.line, 'm');
    assert.equal(s.member.peak, 1);
    waiting.socket.destroy();
  });

  it('serves a client queued on one worker when the worker holding the place dies', async () => {
    const s = await held({ max: 100, timeout: 10_000 });
    const waiting = await queueOn(s, 1 - s.holderWorker, [0, 0]);
    await s.app.workers!.thread(s.holderWorker).terminate();
    assert.equal(await waiting.line, 'm');
    waiting.socket.destroy();
  });
});

/** An http request on its own connection: the socket, and all the balancer sent until it closed. */
function request(port: number, path: string): { socket: net.Socket; text: Promise<string> } {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  const text = new Promise<string>((resolve) => {
    let got = '';
    socket.on('data', (c: Buffer) => { got += c.toString('latin1'); });
    socket.on('error', () => resolve(got));
    socket.on('close', () => resolve(got));
  });
  return { socket, text };
}

describe('workers: 2, the queue of http requests', { timeout: 120_000 }, () => {
  /** A member at max-connections 1 that keeps /hold unanswered until told; the request holding its place. */
  async function heldHttp(timeout: number): Promise<{ app: Furiwake; port: number; pool: Pool; answer: () => void; holderWorker: number }> {
    const pending: http.ServerResponse[] = [];
    const m = await startMember('m', (req, res) => {
      if (req.url === '/hold') pending.push(res);
      else res.end(`m ${req.method} ${req.url}`);
    });
    const app = await startApp(withWorkers(httpConfig(pool('round-robin', [{ port: m.port, id: 'm', maxConnections: 1 }], { max: 100, timeout })), 2));
    const port = app.address('svc').port;
    request(port, '/hold');
    await until(() => pending.length === 1);
    const holderWorker = (await perWorker(app)).indexOf(1);
    assert.notEqual(holderWorker, -1);
    const answer = (): void => {
      pending.shift()!.end('held');
    };
    return { app, port, pool: app.runtime.pools.get('p')!, answer, holderWorker };
  }

  it('serves a request queued on one worker when a request on the other ends', async () => {
    const s = await heldHttp(10_000);
    const other = 1 - s.holderWorker;
    for (;;) {
      const queued = request(s.port, '/queued');
      await until(() => s.pool.queuedEverywhere === 1);
      const now = await perWorker(s.app);
      if (now[other] === 1) {
        s.answer();
        const text = await queued.text;
        assert.match(text, /^HTTP\/1\.1 200 /);
        assert.equal(bodyOf(text), 'm GET /queued');
        return;
      }
      queued.socket.resetAndDestroy();
      await until(() => s.pool.queuedEverywhere === 0);
    }
  });

  it('answers 503 to a request whose queue timeout passes', async () => {
    const s = await heldHttp(200);
    const texts = await Promise.all(Array.from({ length: 4 }, () => request(s.port, '/late').text));
    for (const text of texts) assert.match(text, /^HTTP\/1\.1 503 /);
    assert.equal(s.pool.queuedEverywhere, 0);
    s.answer();
  });
});

describe('the pools\' queue blocks', () => {
  it('a pool keeps its block across reloads; a removed one\'s is reused once swept', () => {
    const slots = new QueueSlots(3);
    const first = new Map(slots.assign(['a', 'b']));
    const second = new Map(slots.assign(['b', 'c']));
    assert.equal(second.get('b'), first.get('b'));
    assert.notEqual(second.get('c'), first.get('a'));
    slots.sweep();
    assert.equal(new Map(slots.assign(['b', 'c', 'd'])).get('d'), first.get('a'));
  });

  it('refuses more pools than it has blocks, naming pools', () => {
    const slots = new QueueSlots(3);
    const names = Array.from({ length: MAX_QUEUES + 1 }, (_, i) => `p${i}`);
    assert.throws(() => slots.assign(names), { message: `global.workers: ${MAX_QUEUES + 1} pools, with those a reload just removed, are more than the ${MAX_QUEUES} whose queues the workers can share` });
    assert.equal(slots.assign(names.slice(1)).length, MAX_QUEUES);
  });
});

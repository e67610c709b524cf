// The pool queue shared between threads (shared-queue.ts), with each thread played by its own
// Pool in this one thread: the pools count on one shared slot and share one queue block, as a
// pool does in each worker. Atomics.waitAsync resolves in the thread that waits, so a wake here
// is a real one. The same across real worker threads: test/workers/queue.test.ts.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Member } from '../../src/runtime/member.ts';
import { RuntimeEvents } from '../../src/runtime/events.ts';
import { Pool } from '../../src/runtime/pool.ts';
import { SharedCounters } from '../../src/runtime/shared-counters.ts';
import { forgetThread, queueBlockLength, SharedQueue } from '../../src/runtime/shared-queue.ts';
import { pool } from '../helpers/config.ts';

const THREADS = 3;

/** every pool made: closed after each test, so no queue timer outlives it */
const made: Pool[] = [];
afterEach(() => {
  for (const p of made.splice(0)) p.close();
});

/** `THREADS` pools of one member at max-connections `limit`, sharing its count and the queue. */
function threads(limit: number, queue = { max: 100, timeout: 5_000 }): { pools: Pool[]; queues: SharedArrayBuffer } {
  const counts = new SharedArrayBuffer(16);
  const queues = new SharedArrayBuffer(queueBlockLength(THREADS) * 2 * 4);
  const pools = Array.from({ length: THREADS }, (_, self) => {
    const p = new Pool('p', pool('round-robin', [{ port: 80, id: 'm', maxConnections: limit }], queue, { health: { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'up' } }), new RuntimeEvents());
    p.members[0].shareCount(new SharedCounters(counts), 0);
    // block 1: a pool's block need not be the first
    p.shareQueue(new SharedQueue(queues, 1, THREADS, self));
    return p;
  });
  made.push(...pools);
  return { pools, queues };
}

/** Queues a client on `p`; resolves with the member it gets (undefined: timed out or closed). */
function wait(p: Pool): { served: Promise<Member | undefined>; cancel: () => void } {
  let waiter: ReturnType<Pool['enqueue']> | null = null;
  const served = new Promise<Member | undefined>((resolve) => {
    waiter = p.enqueue(0, resolve);
  });
  return { served, cancel: () => p.cancel(waiter!) };
}

/** Lets queued microtasks and wakes run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('shared queue', () => {
  it('serves a client queued in one thread when another thread frees the place', async () => {
    const { pools: [a, b] } = threads(1);
    const held = a.acquire(0, null)!;
    assert.equal(b.acquire(0, null), undefined);
    const client = wait(b);
    await turn();
    a.release(held, 0, 0);
    const member = await client.served;
    assert.equal(member, b.members[0]);
    assert.equal(member!.active, 1);
    assert.equal(a.queuedEverywhere, 0);
  });

  it('serves a place freed just before the client was queued (no wake lost)', async () => {
    const { pools: [a, b] } = threads(1);
    const held = a.acquire(0, null)!;
    assert.equal(b.acquire(0, null), undefined);
    // freed after the pick failed and before the queue was joined: nobody was waiting to wake
    a.release(held, 0, 0);
    assert.equal(await wait(b).served, b.members[0]);
  });

  it('serves the oldest client first, whichever thread holds it', async () => {
    const { pools: [a, b, c] } = threads(1);
    const held = a.acquire(0, null)!;
    const order: string[] = [];
    const first = wait(c);
    const second = wait(a);
    const third = wait(b);
    void first.served.then(() => order.push('c'));
    void second.served.then(() => order.push('a'));
    void third.served.then(() => order.push('b'));
    await turn();
    // a frees the place, but c's client came before a's own
    a.release(held, 0, 0);
    const m1 = (await first.served)!;
    await turn();
    assert.deepEqual(order, ['c']);
    c.release(m1, 0, 0);
    const m2 = (await second.served)!;
    a.release(m2, 0, 0);
    b.release((await third.served)!, 0, 0);
    assert.deepEqual(order, ['c', 'a', 'b']);
    assert.equal(a.members[0].active, 0);
    assert.equal(a.queuedEverywhere, 0);
  });

  it('when the oldest client leaves without the place, a younger one in another thread takes it', async () => {
    const { pools: [a, b] } = threads(1, { max: 100, timeout: 5_000 });
    // b's view of the member differs (a change the main thread sent has not reached b yet): b cannot give it
    b.members[0].setAdmin('disabled');
    const held = a.acquire(0, null)!;
    const older = wait(b);
    let served = false;
    const younger = wait(a);
    void younger.served.then(() => { served = true; });
    await turn();
    // b's client came first: a leaves the place for it, and b cannot use it
    a.release(held, 0, 0);
    await turn();
    await turn();
    assert.equal(served, false);
    // b's client leaves: a is woken and its own client takes the place
    older.cancel();
    assert.equal(await younger.served, a.members[0]);
  });

  it('counts queue.max over every thread', async () => {
    const { pools: [a, b, c] } = threads(1, { max: 2, timeout: 5_000 });
    a.acquire(0, null);
    const waiting = [wait(a), wait(b)];
    assert.equal(c.queuedEverywhere, 2);
    assert.ok(c.queueFull);
    waiting[0].cancel();
    assert.equal(c.queuedEverywhere, 1);
    assert.ok(!c.queueFull);
    waiting[1].cancel();
    assert.equal(c.queuedEverywhere, 0);
  });

  it('a thread that is gone is forgotten: its clients no longer count, nor come first', async () => {
    const { pools: [a, b], queues } = threads(1);
    const held = a.acquire(0, null)!;
    void wait(b);
    const younger = wait(a);
    await turn();
    assert.equal(a.queuedEverywhere, 2);
    // b's thread dies with its client (forgetThread is what the main thread does)
    forgetThread(queues, THREADS, 1);
    assert.equal(a.queuedEverywhere, 1);
    a.release(held, 0, 0);
    assert.equal(await younger.served, a.members[0]);
  });

  it('a closed pool leaves nothing queued in the block', async () => {
    const { pools: [a, b] } = threads(1);
    a.acquire(0, null);
    const client = wait(b);
    b.close();
    assert.equal(await client.served, undefined);
    assert.equal(a.queuedEverywhere, 0);
  });
});

// The counters that decide, shared between worker threads (src/runtime/shared-counters.ts): a
// limit holds across real worker threads racing for the same member, counts come back to 0, and
// the control side's slots survive reloads.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { CounterSlots, MAX_SLOTS, SharedCounters } from '../../src/runtime/shared-counters.ts';
import { CHECK_SLOTS, HELD, PEAK, PROGRESS, SEEN, START, type CounterWork } from './shared-counters-worker.ts';

const WORKER = new URL('./shared-counters-worker.ts', import.meta.url);

interface Result {
  acquired: number;
  refused: number;
}

/** Runs two workers on slot 0 of `counts` at once; resolves with each one's result and the shared check array. */
async function race(counts: SharedArrayBuffer, work: Omit<CounterWork, 'counts' | 'check' | 'slot' | 'index'>): Promise<{ results: Result[]; check: Int32Array }> {
  const checkBuffer = new SharedArrayBuffer(4 * CHECK_SLOTS);
  const check = new Int32Array(checkBuffer);
  const started = [0, 1].map((index) => new Worker(WORKER, { workerData: { ...work, counts, check: checkBuffer, slot: 0, index } satisfies CounterWork }));
  await Promise.all(started.map((w) => once(w, 'message')));
  const results = started.map(outcome);
  Atomics.store(check, START, 1);
  Atomics.notify(check, START);
  return { results: await Promise.all(results), check };
}

/** The worker's result, once it has exited. */
async function outcome(worker: Worker): Promise<Result> {
  // (both listened for at once: a worker's last message may be emitted just before its exit, in one task)
  const exit = once(worker, 'exit');
  const [result] = (await once(worker, 'message')) as [Result];
  await exit;
  return result;
}

describe('shared counters across worker threads', () => {
  it('2 workers x 200 concurrent clients never hold more than the limit of 50; the count returns to 0', async () => {
    const slots = new CounterSlots();
    const slot = slots.assign(['p/a']).get('p/a')!;
    assert.equal(slot, 0);
    const CYCLES = 10;
    const { results, check } = await race(slots.buffer, { limit: 50, clients: 200, cycles: CYCLES });
    // the limit was reached, and never passed, by places held or by the count read
    assert.equal(Atomics.load(check, PEAK), 50);
    assert.ok(Atomics.load(check, SEEN) <= 50, `a count of ${Atomics.load(check, SEEN)} was read`);
    // every client got its every cycle, after waiting its turn
    assert.deepEqual(results.map((r) => r.acquired), [200 * CYCLES, 200 * CYCLES]);
    assert.ok(results.every((r) => r.refused > 0), 'clients were refused at the limit');
    assert.equal(Atomics.load(check, HELD), 0);
    assert.equal(slots.counters.read(slot), 0);
  });

  it('a limit of 1 is mutual exclusion between two threads in tight loops', async () => {
    const counters = new SharedCounters(new SharedArrayBuffer(4));
    const { results, check } = await race(counters.buffer, { limit: 1, clients: 0, cycles: 2_000_000 });
    assert.equal(Atomics.load(check, PEAK), 1);
    assert.equal(Atomics.load(check, SEEN), 1);
    assert.deepEqual(results.map((r) => r.acquired + r.refused), [Atomics.load(check, PROGRESS), Atomics.load(check, PROGRESS + 1)]);
    assert.equal(counters.read(0), 0);
  });

  it('no limit (0): every acquire counts, and two threads lose no update', async () => {
    const counters = new SharedCounters(new SharedArrayBuffer(4));
    const { results, check } = await race(counters.buffer, { limit: 0, clients: 0, cycles: 100_000 });
    assert.deepEqual(results, [0, 1].map((i) => ({ acquired: Atomics.load(check, PROGRESS + i), refused: 0 })));
    assert.equal(counters.read(0), 0);
  });
});

describe('shared counters', () => {
  it('acquires under the limit only, and releases', () => {
    const counters = new SharedCounters(new SharedArrayBuffer(8));
    assert.equal(counters.acquire(1, 2), true);
    assert.equal(counters.acquire(1, 2), true);
    assert.equal(counters.acquire(1, 2), false);
    assert.equal(counters.read(1), 2);
    assert.equal(counters.read(0), 0);
    assert.equal(counters.release(1), 1);
    assert.equal(counters.acquire(1, 2), true);
    // a lower limit after a reload: no new place until the count is under it
    assert.equal(counters.acquire(1, 1), false);
    assert.equal(counters.acquire(1, 0), true);
    assert.equal(counters.read(1), 3);
  });
});

describe('counter slots across reloads', () => {
  it('a member that stays keeps its slot; a new one takes a fresh slot', () => {
    const slots = new CounterSlots();
    const first = slots.assign(['p/a', 'p/b']);
    assert.deepEqual([...first], [['p/a', 0], ['p/b', 1]]);
    slots.counters.acquire(0, 0);
    const second = slots.assign(['p/b', 'p/a', 'q/c']);
    assert.deepEqual([second.get('p/a'), second.get('p/b'), second.get('q/c')], [0, 1, 2]);
    assert.equal(slots.counters.read(0), 1, 'its count went on');
  });

  it('frees a removed member\'s slot once its count is 0, and reuses it for a new one', () => {
    const slots = new CounterSlots();
    slots.assign(['p/a', 'p/b']);
    const { counters } = slots;
    counters.acquire(0, 0);
    slots.assign(['p/b']);
    assert.equal(slots.slotOf('p/a'), undefined);
    // its live connection still counts: the slot is not given away
    assert.equal(slots.sweep(), 1);
    assert.equal(slots.assign(['p/b', 'p/c']).get('p/c'), 2);
    counters.release(0);
    assert.equal(slots.sweep(), 0);
    assert.equal(slots.used, 2);
    assert.equal(slots.assign(['p/b', 'p/c', 'p/d']).get('p/d'), 0);
    assert.equal(counters.read(0), 0);
  });

  it('gives a member that comes back before its slot was freed the same slot, where its connections still count', () => {
    const slots = new CounterSlots();
    slots.assign(['p/a']);
    slots.counters.acquire(0, 0);
    slots.assign([]);
    assert.equal(slots.retired, 1);
    assert.equal(slots.assign(['p/a']).get('p/a'), 0);
    assert.equal(slots.retired, 0);
    assert.equal(slots.counters.read(0), 1);
  });

  it('told only what a reload changed, leaves the keys it was not told of as they are', () => {
    const slots = new CounterSlots();
    assert.deepEqual(slots.change([], ['p/a', 'p/b', 'q/c']), [0, 1, 2]);
    slots.counters.acquire(1, 0);
    // pool p changed: b left, d came; q was not looked at
    assert.deepEqual(slots.change(['p/a', 'p/b'], ['p/a', 'p/d']), [0, 3]);
    assert.deepEqual([slots.slotOf('p/b'), slots.slotOf('q/c'), slots.retired], [undefined, 2, 1]);
    // b, still counting, comes back to its slot; q removed whole
    assert.deepEqual(slots.change(['p/a', 'p/d', 'q/c'], ['p/a', 'p/b', 'p/d']), [0, 1, 3]);
    assert.deepEqual([slots.slotOf('q/c'), slots.used, slots.counters.read(1)], [undefined, 4, 1]);
    assert.equal(slots.sweep(), 0);
    assert.deepEqual(slots.change([], ['r/e']), [2]);
  });

  it('hands workers the buffer once: slots assigned after their start are in it', async () => {
    const slots = new CounterSlots();
    const keys = Array.from({ length: 100 }, (_, i) => `p/m${i}`);
    slots.assign(keys.slice(0, 2));
    const checkBuffer = new SharedArrayBuffer(4 * CHECK_SLOTS);
    const check = new Int32Array(checkBuffer);
    // (its partner's progress is set as done: it runs its cycles alone)
    Atomics.store(check, PROGRESS + 1, 3);
    // the worker is given the buffer at its start, and the slot the next member will have
    const worker = new Worker(WORKER, { workerData: { counts: slots.buffer, check: checkBuffer, slot: 99, index: 0, limit: 0, clients: 0, cycles: 3 } satisfies CounterWork });
    await once(worker, 'message');
    // a reload adds members while it runs
    assert.equal(slots.assign(keys).get('p/m99'), 99);
    const done = outcome(worker);
    Atomics.store(check, START, 1);
    Atomics.notify(check, START);
    const result = await done;
    assert.equal(result.acquired, 1000);
    assert.equal(slots.counters.read(99), 0);
    assert.equal(Atomics.load(check, SEEN), 1);
  });

  it('refuses, changing nothing, more members than the maximum, counting removed ones not yet freed', () => {
    const slots = new CounterSlots(3);
    slots.assign(['a', 'b', 'c']);
    slots.counters.acquire(0, 0);
    assert.throws(() => slots.assign(['b', 'c', 'd']), new RangeError('counter slots: 3 members and 1 removed ones still counting need more than 3 slots'));
    assert.deepEqual([slots.slotOf('a'), slots.used], [0, 3]);
    slots.counters.release(0);
    slots.assign(['b', 'c']);
    slots.sweep();
    assert.equal(slots.assign(['b', 'c', 'd']).get('d'), 0);
    assert.throws(() => new CounterSlots(MAX_SLOTS + 1), new RangeError(`counter slots: max must be 1..${MAX_SLOTS}, got ${MAX_SLOTS + 1}`));
  });
});

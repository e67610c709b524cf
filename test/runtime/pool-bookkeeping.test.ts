// What a pool keeps counted so it does not walk its members or its queue: members by id, how many
// are available (hasAvailable), and the waiters a cancel took out (left in place, swept later).
// Each is checked against the walk it replaces, through health, admin, agent and ejection
// changes, reloads that add and remove members, and waiters that come, go and are served.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Member } from '../../src/runtime/member.ts';
import type { Waiter } from '../../src/runtime/pool.ts';
import { fuzzCount } from '../helpers/fuzz.ts';
import { pool as poolConfig, type MemberSpec } from '../helpers/config.ts';
import { livePool, seededRandom } from '../balance/helpers.ts';

function specs(random: () => number, ids: number[], maxConnections: number): MemberSpec[] {
  return ids.map((i) => ({ port: 1000 + i, id: `m${i}`, maxConnections, backup: random() < 0.2 }));
}

test('hasAvailable and member(id) follow every change of state and every reload', () => {
  const random = seededRandom(1717);
  for (let round = 0; round < fuzzCount(40); round++) {
    let ids = Array.from({ length: 1 + Math.floor(random() * 8) }, (_, i) => i);
    let next = ids.length;
    const pool = livePool(poolConfig('round-robin', specs(random, ids, 0)));
    const removed: Member[] = [];
    for (let step = 0; step < 200; step++) {
      const r = random();
      // a member a reload took out changes too: it must not count
      const all = [...pool.members, ...removed];
      const m = all[Math.floor(random() * all.length)];
      if (m === undefined) continue;
      if (r < 0.3) m.setHealth(m.health === 'up' ? 'down' : 'up');
      else if (r < 0.45) m.setAdmin(random() < 0.5 ? 'enabled' : random() < 0.5 ? 'drain' : 'disabled');
      else if (r < 0.6) m.setAgent({ state: random() < 0.5 ? 'up' : 'maint', percent: 100, maxConnections: null, message: '', at: 0 });
      else if (r < 0.7) m.clearAgent();
      else if (r < 0.8) {
        // a reload: some members go, some come
        const before = new Map(pool.members.map((x) => [x.id, x]));
        ids = ids.filter(() => random() < 0.8);
        while (random() < 0.4) ids.push(next++);
        pool.reconfigure(poolConfig('round-robin', specs(random, ids, 0)));
        for (const [id, x] of before) if (pool.member(id) !== x) removed.push(x);
      }
      assert.equal(pool.hasAvailable(), pool.members.some((x) => x.available), `round ${round} step ${step}`);
      for (const x of pool.members) assert.equal(pool.member(x.id), x);
      for (const x of removed) assert.notEqual(pool.member(x.id), x);
    }
    pool.close();
  }
});

test('waiters are served in the order they came, those cancelled skipped, however many went', () => {
  const random = seededRandom(2323);
  for (let round = 0; round < fuzzCount(40); round++) {
    // one member with room for one connection: every release serves one waiter
    const pool = livePool(poolConfig('round-robin', [{ port: 1000, id: 'm0', maxConnections: 1 }]));
    pool.members[0].setHealth('up');
    const first = pool.acquire(0, null);
    assert.ok(first !== undefined);
    const served: number[] = [];
    const failed: number[] = [];
    const open: { waiter: Waiter; n: number }[] = [];
    const expected: number[] = [];
    let n = 0;
    for (let step = 0; step < 300; step++) {
      const r = random();
      if (r < 0.5) {
        const k = n++;
        open.push({ waiter: pool.enqueue(0, (member) => (member === undefined ? failed : served).push(k)), n: k });
      } else if (r < 0.8 && open.length > 0) {
        // its client went away
        pool.cancel(open.splice(Math.floor(random() * open.length), 1)[0].waiter);
      } else if (open.length > 0) {
        // the member's one connection ends: the first waiter still waiting gets it, and ends at once too
        expected.push(open.shift()!.n);
        pool.release(pool.members[0], 0, 0);
      }
      assert.equal(pool.queued, open.length, `round ${round} step ${step}`);
    }
    assert.deepEqual(served, expected);
    // closing fails those still waiting, and only those
    pool.close();
    assert.deepEqual(failed, open.map((o) => o.n));
    assert.equal(pool.queued, 0);
  }
});

// A waiter's done() runs the client's code, which may let other waiters of the same client go (an
// HTTP/2 connection whose streams wait in one queue: one served, the connection closes, the others
// are cancelled). The counts must survive a cancel from inside the pool's own walk of its queue.

test('a cancel from inside a served waiter\'s done() leaves queued exact, however many it sweeps', () => {
  const pool = livePool(poolConfig('round-robin', [{ port: 1000, id: 'm0', maxConnections: 1 }]));
  pool.members[0].setHealth('up');
  assert.ok(pool.acquire(0, null) !== undefined);
  const served: number[] = [];
  const waiters: Waiter[] = [];
  for (let k = 0; k < 40; k++) {
    waiters.push(pool.enqueue(0, (member) => {
      if (member === undefined) return;
      served.push(k);
      // the first one served lets one more go: the cancels reach half the queue, which is swept
      if (k === 0) pool.cancel(waiters[20]);
    }));
  }
  // 19 clients gone, right behind the first: not yet half of the 40, so left in place
  for (let k = 1; k < 20; k++) pool.cancel(waiters[k]);
  assert.equal(pool.queued, 21);
  pool.release(pool.members[0], 0, 0);
  assert.deepEqual(served, [0]);
  // w21..w39 wait
  assert.equal(pool.queued, 19);
  // and are served in order, one per release, with nothing left over
  for (let k = 21; k < 40; k++) pool.release(pool.members[0], 0, 0);
  assert.deepEqual(served, [0, ...Array.from({ length: 19 }, (_, i) => 21 + i)]);
  assert.equal(pool.queued, 0);
  pool.close();
});

test('closing a pool whose failed waiter lets the others go leaves no count below zero', () => {
  const pool = livePool(poolConfig('round-robin', [{ port: 1000, id: 'm0', maxConnections: 1 }]));
  const member = pool.members[0];
  member.setHealth('up');
  assert.ok(pool.acquire(0, null) !== undefined);
  const failed: number[] = [];
  const waiters: Waiter[] = [];
  for (let k = 0; k < 3; k++) {
    waiters.push(pool.enqueue(0, (m) => {
      if (m !== undefined) return;
      failed.push(k);
      // failing the first closes its client, whose other requests leave the queue
      if (k === 0) for (const w of waiters.slice(1)) pool.cancel(w);
    }, member));
  }
  pool.close();
  // the first failed; the others' client was gone by then: none is told, none counted as waiting
  assert.deepEqual(failed, [0]);
  assert.equal(pool.queued, 0);
});

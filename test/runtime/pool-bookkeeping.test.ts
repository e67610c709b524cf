// What a pool keeps counted so it does not walk its members or its queue: members by id, how many
// are available (hasAvailable), and the waiters a cancel took out (left in place, swept later).
// Each is checked against the walk it replaces, through health, admin, agent and ejection
// changes, reloads that add and remove members, and waiters that come, go and are served.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PoolConfig } from '../../src/config/types.ts';
import { RuntimeEvents } from '../../src/runtime/events.ts';
import type { Member } from '../../src/runtime/member.ts';
import { Pool, type Waiter } from '../../src/runtime/pool.ts';
import { fuzzCount } from '../helpers/fuzz.ts';
import { pool as poolConfig, type MemberSpec } from '../helpers/config.ts';
import { seededRandom } from '../balance/helpers.ts';

function specs(random: () => number, ids: number[], maxConnections: number): MemberSpec[] {
  return ids.map((i) => ({ port: 1000 + i, id: `m${i}`, maxConnections, backup: random() < 0.2 }));
}

/** A pool told of its members' changes as the runtime tells it (runtime.ts). */
function livePool(config: PoolConfig): Pool {
  const events = new RuntimeEvents();
  const pool = new Pool('p', config, events);
  events.on('member', (member, change) => pool.memberChanged(member, change));
  return pool;
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

// Pool.acquireByHash (a new sticky client's member with worker threads: chosen from the hash
// alone, so every thread makes the same choice) keeps the members' weights in a Fenwick tree
// (weighted-hash.ts) instead of scanning the pool: over random pools, hashes, skip lists and
// member changes it must choose what the scan chooses, with and without connection limits,
// integer and fractional weights (those two fall back to the scan).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RuntimeEvents } from '../../src/runtime/events.ts';
import type { Member } from '../../src/runtime/member.ts';
import { Pool } from '../../src/runtime/pool.ts';
import { seededRandom } from '../balance/helpers.ts';
import { pool as poolConfig, type MemberSpec } from '../helpers/config.ts';
import { fuzzCount } from '../helpers/fuzz.ts';
import { scan } from './hash-scan.ts';

for (const limits of [false, true]) {
  test(`acquireByHash chooses what the scan chooses as members change (${limits ? 'with connection limits: the scan itself' : 'the tree'})`, () => {
    const random = seededRandom(1717 + (limits ? 1 : 0));
    for (let round = 0; round < fuzzCount(40); round++) {
      const n = 1 + Math.floor(random() * 120);
      const specs: MemberSpec[] = Array.from({ length: n }, (_, i) => ({
        port: 1000 + i, id: `m${i}`,
        weight: random() < 0.1 ? 0 : 1 + Math.floor(random() * 6),
        maxConnections: limits && random() < 0.3 ? 1 + Math.floor(random() * 2) : 0,
        backup: random() < 0.2,
      }));
      const events = new RuntimeEvents();
      const pool = new Pool('p', poolConfig('weighted-round-robin', specs, {}, { health: { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'up' } }), events);
      events.on('member', (member, change) => pool.memberChanged(member, change));
      const members = pool.members;
      const held: Member[] = [];
      for (let step = 0; step < 200; step++) {
        const hash = Math.floor(random() * 2 ** 32);
        const skip = random() < 0.2 ? [members[Math.floor(random() * n)], members[Math.floor(random() * n)]] : null;
        const want = scan(members, hash, skip);
        const got = pool.acquireByHash(hash, skip);
        // none under the hash: the pool's algorithm chooses (or nobody), which this does not check
        if (want !== undefined) assert.equal(got?.id, want.id, `round ${round} step ${step}`);
        if (got !== undefined) held.push(got);
        const m = members[Math.floor(random() * n)];
        const r = random();
        if (r < 0.3 && held.length > 0) pool.release(held.splice(Math.floor(random() * held.length), 1)[0], 0, 0);
        else if (r < 0.45) m.setHealth(m.health === 'up' ? 'down' : 'up');
        else if (r < 0.55) m.setAdmin(m.admin === 'enabled' ? 'drain' : 'enabled');
        else if (r < 0.6) m.setWeight(Math.floor(random() * 5));
        else if (r < 0.63) m.setRamp(random() < 0.5 ? 1 : (1 + Math.floor(random() * 3)) / 4);
      }
    }
  });
}

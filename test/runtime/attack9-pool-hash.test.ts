// Attacks on acquireByHash's Fenwick tree (weighted-hash.ts): the member changes pool-hash.test.ts
// does not make, between picks: an agent's percent, state and maxconn, passive ejections, huge
// integer weights, and reloads that add, remove and move members between primaries and backups.
// Each pick must be what the scan over the pool chooses.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PoolConfig } from '../../src/config/types.ts';
import { RuntimeEvents } from '../../src/runtime/events.ts';
import type { Member } from '../../src/runtime/member.ts';
import type { AgentState } from '../../src/runtime/member-state.ts';
import { Pool } from '../../src/runtime/pool.ts';
import { seededRandom } from '../balance/helpers.ts';
import { pool as poolConfig, type MemberSpec } from '../helpers/config.ts';
import { fuzzCount } from '../helpers/fuzz.ts';
import { scan } from './hash-scan.ts';

const STATES: AgentState[] = ['ready', 'up', 'drain', 'maint', 'down'];

test('acquireByHash chooses what the scan chooses through agents, ejections, huge weights and reloads', () => {
  const random = seededRandom(0xa779);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  for (let round = 0; round < fuzzCount(40); round++) {
    const specs = (n: number, from: number): MemberSpec[] => Array.from({ length: n }, (_, i) => ({
      port: 1000 + from + i, id: `m${from + i}`,
      weight: random() < 0.1 ? 0 : random() < 0.1 ? 2 ** 40 + Math.floor(random() * 1000) : 1 + Math.floor(random() * 6),
      backup: random() < 0.25,
    }));
    const config = (members: MemberSpec[]): PoolConfig => poolConfig('weighted-round-robin', members, {}, { health: { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'up' } });
    let current = specs(1 + Math.floor(random() * 80), 0);
    let next = current.length;
    const events = new RuntimeEvents();
    const pool = new Pool('p', config(current), events);
    events.on('member', (member, change) => pool.memberChanged(member, change));
    const held: Member[] = [];
    for (let step = 0; step < 300; step++) {
      const members = pool.members;
      const hash = Math.floor(random() * 2 ** 32);
      const skip = random() < 0.2 ? [pick(members), pick(members)] : null;
      const want = scan(members, hash, skip);
      const got = pool.acquireByHash(hash, skip);
      if (want !== undefined) assert.equal(got?.id, want.id, `round ${round} step ${step}`);
      if (got !== undefined) held.push(got);
      const m = pick(members);
      const r = random();
      if (r < 0.25 && held.length > 0) {
        const i = Math.floor(random() * held.length);
        const gone = held.splice(i, 1)[0];
        if (pool.members.includes(gone)) pool.release(gone, 0, 0);
      } else if (r < 0.4) {
        m.setAgent({ state: pick(STATES), percent: pick([0, 50, 100, 100, 200, 33]), maxConnections: random() < 0.2 ? Math.floor(random() * 3) : null, message: '', at: 0 });
      } else if (r < 0.45) m.clearAgent();
      else if (r < 0.55) m.passiveChanged(!m.passive.ejected && random() < 0.5, 'test');
      else if (r < 0.65) m.setWeight(random() < 0.2 ? 2 ** 40 + Math.floor(random() * 1000) : Math.floor(random() * 5));
      else if (r < 0.7) {
        // a reload: some members go, some come, some move between primaries and backups
        const kept = current.filter(() => random() < 0.8).map((s) => (random() < 0.2 ? { ...s, backup: !s.backup } : s));
        const added = specs(Math.floor(random() * 5), next);
        next += added.length;
        current = kept.length + added.length > 0 ? [...kept, ...added] : specs(1, next++);
        pool.reconfigure(config(current));
        held.splice(0).forEach((h) => pool.members.includes(h) && pool.release(h, 0, 0));
      }
    }
  }
});

// Pools of more than SCAN_UP_TO members pick with the indexed balancers (createIndexedBalancer), which read a member's state
// only when the member tells its pool: every way a member changes (connections taken and given,
// health, admin, agent limits, slow start, latency samples, weights) must reach the balancer, so
// a pool picks exactly what the scanning form picks over the same members. With worker threads'
// shared counts, changes made by other threads are seen without being told.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AlgorithmName, Balancer } from '../../src/balance/index.ts';
import { createBalancer, SCAN_UP_TO } from '../../src/balance/index.ts';
import type { Member } from '../../src/runtime/member.ts';
import type { Pool } from '../../src/runtime/pool.ts';
import { SharedCounters } from '../../src/runtime/shared-counters.ts';
import { fuzzCount } from '../helpers/fuzz.ts';
import { pool as poolConfig, type MemberSpec } from '../helpers/config.ts';
import { livePool, seededRandom } from './helpers.ts';

const ALGORITHMS: AlgorithmName[] = ['weighted-round-robin', 'least-connections', 'weighted-least-connections', 'least-time'];

function specs(random: () => number, n: number): MemberSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    port: 1000 + i,
    id: `m${i}`,
    weight: random() < 0.1 ? 0 : 1 + Math.floor(random() * 4),
    maxConnections: random() < 0.3 ? 1 + Math.floor(random() * 3) : 0,
    backup: random() < 0.15,
  }));
}

for (const name of ALGORITHMS) {
  test(`${name}: a pool picks what the scan picks as its members change`, () => {
    const random = seededRandom(77 + name.length);
    for (let round = 0; round < fuzzCount(60); round++) {
      // small pools scan, large ones (over SCAN_UP_TO) keep trees: both
      const n = random() < 0.3 ? 1 + Math.floor(random() * 30) : SCAN_UP_TO + 1 + Math.floor(random() * 40);
      const pool = livePool(poolConfig(name, specs(random, n)));
      const members = pool.members;
      const primary: Balancer<Member> = createBalancer(name, members.filter((m) => !m.backup));
      const backup: Balancer<Member> = createBalancer(name, members.filter((m) => m.backup));
      const held: Member[] = [];
      for (let step = 0; step < 300; step++) {
        const skip = random() < 0.15 ? [members[Math.floor(random() * n)]] : null;
        const want = primary.pick(0, skip) ?? backup.pick(0, skip);
        const got = pool.acquire(0, skip);
        assert.equal(got?.id, want?.id, `${name} round ${round} step ${step}`);
        if (got !== undefined) held.push(got);
        const m = members[Math.floor(random() * n)];
        const r = random();
        if (r < 0.35 && held.length > 0) pool.release(held.splice(Math.floor(random() * held.length), 1)[0], 0, 0);
        else if (r < 0.45) m.setHealth(m.health === 'up' ? 'down' : 'up');
        else if (r < 0.5) m.setAdmin(m.admin === 'enabled' ? 'drain' : 'enabled');
        else if (r < 0.55) m.setMaxConnections(Math.floor(random() * 3));
        else if (r < 0.65) m.recordLatency(1 + Math.floor(random() * 20));
        else if (r < 0.7) {
          // slow start, an operator or an agent: the scans read the new weight live, the pool's
          // balancer is told (weighted-round-robin's cycle goes on in both, not starting again)
          if (r < 0.67) m.setRamp(random() < 0.5 ? 1 : (1 + Math.floor(random() * 3)) / 4);
          else if (r < 0.69) m.setWeight(Math.floor(random() * 5));
          else m.setAgent({ state: 'up', percent: 25 * Math.floor(random() * 5), maxConnections: null, message: '', at: 0 });
        }
      }
    }
  });
}

/** A pool whose members count on shared counters, as in a worker thread; `other` plays the other threads. */
function sharedPool(name: AlgorithmName, n: number, maxConnections = 0): { pool: Pool; other: SharedCounters } {
  const pool = livePool(poolConfig(name, Array.from({ length: n }, (_, i) => ({ port: 1000 + i, id: `m${i}`, maxConnections }))));
  const buffer = new SharedArrayBuffer(4 * n);
  const counters = new SharedCounters(buffer);
  pool.members.forEach((m, i) => m.shareCount(counters, i));
  return { pool, other: new SharedCounters(buffer) };
}

for (const name of ['least-connections', 'weighted-least-connections', 'least-time'] as const) {
  test(`${name}: with shared counts, what other threads take and give is seen without being told`, () => {
    const n = 300;
    const { pool, other } = sharedPool(name, n);
    // another thread holds 5 on every member but m7: this thread's picks go to m7 first
    for (let i = 0; i < n; i++) if (i !== 7) for (let k = 0; k < 5; k++) other.acquire(i, 0);
    const first = pool.acquire(0, null)!;
    assert.equal(first.id, 'm7');
    pool.release(first, 0, 0);
    // it ends m100's five: m100 ties m7, and comes first in turn after m7, once this thread sees
    // it — within the re-read period (a quarter of the pool), though nothing here touched m100
    for (let k = 0; k < 5; k++) other.release(100);
    const chosen = new Set<string>();
    for (let p = 0; p < n / 4 + 64 && !chosen.has('m100'); p++) {
      const m = pool.acquire(0, null)!;
      chosen.add(m.id);
      pool.release(m, 0, 0);
    }
    assert.deepEqual([...chosen], ['m7', 'm100']);
  });
}

for (const name of ALGORITHMS) {
  test(`${name}: with shared counts, a member another thread filled is not chosen`, () => {
    const { pool, other } = sharedPool(name, SCAN_UP_TO + 6, 2);
    other.acquire(0, 2);
    other.acquire(0, 2);
    for (let p = 0; p < 8; p++) assert.notEqual(pool.acquire(0, null)?.id, 'm0');
  });
}

for (const name of ALGORITHMS) {
  test(`${name}: a pool picks what the scan picks through reloads that change weights, remove and add members`, () => {
    const random = seededRandom(99 + name.length);
    for (let round = 0; round < fuzzCount(40); round++) {
      let list = specs(random, SCAN_UP_TO + 20 + Math.floor(random() * 40));
      let next = list.length;
      const pool = livePool(poolConfig(name, list));
      let members = pool.members;
      // the reference is updated as the pool's balancers are, so both keep their turn
      const primary: Balancer<Member> = createBalancer(name, members.filter((m) => !m.backup));
      const backup: Balancer<Member> = createBalancer(name, members.filter((m) => m.backup));
      let held: Member[] = [];
      for (let step = 0; step < 300; step++) {
        const want = primary.pick(0, null) ?? backup.pick(0, null);
        const got = pool.acquire(0, null);
        assert.equal(got?.id, want?.id, `${name} round ${round} step ${step}`);
        if (got !== undefined) held.push(got);
        const m = members[Math.floor(random() * members.length)];
        const r = random();
        if (r < 0.35 && held.length > 0) pool.release(held.splice(Math.floor(random() * held.length), 1)[0], 0, 0);
        else if (r < 0.45) m.setHealth(m.health === 'up' ? 'down' : 'up');
        else if (r < 0.55) m.recordLatency(1 + Math.floor(random() * 20));
        else if (r < 0.6) m.setWeight(Math.floor(random() * 5));
        else if (r < 0.63) {
          list = list.map((s) => (random() < 0.1 ? { ...s, weight: 1 + Math.floor(random() * 4) } : s));
          list.splice(Math.floor(random() * list.length), 1);
          list.push({ ...specs(random, 1)[0], port: 1000 + next, id: `m${next}` });
          next++;
          pool.reconfigure(poolConfig(name, list));
          members = pool.members;
          primary.update(members.filter((x) => !x.backup));
          backup.update(members.filter((x) => x.backup));
          held = held.filter((h) => members.includes(h));
        }
      }
    }
  });
}

// The one dispatch rule (runtime/dispatch.ts) on live pools and members, without sockets: each
// case of the first choice (remembered member usable, full, draining, gone; the algorithm; the
// queue; backups; nothing usable) and of the fallbacks (retries skip what was tried).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import { Dispatcher } from '../../src/runtime/dispatch.ts';
import { RuntimeEvents } from '../../src/runtime/events.ts';
import type { Member } from '../../src/runtime/member.ts';
import { ServicePersistence } from '../../src/runtime/persistence.ts';
import { Pool } from '../../src/runtime/pool.ts';
import { pool as poolConfig, type MemberSpec } from '../helpers/config.ts';

const three: MemberSpec[] = [{ port: 1, id: 's1' }, { port: 2, id: 's2' }, { port: 3, id: 's3' }];

function livePool(specs: MemberSpec[], queue: { max?: number; timeout?: number } = {}): Pool {
  return new Pool('p', poolConfig('round-robin', specs, queue), new RuntimeEvents());
}

function sourceIp(whenFull: 'repin' | 'wait' = 'repin'): ServicePersistence {
  const config: PersistenceConfig = { method: 'source-ip', whenFull, mask: 32, mask6: 128, timeout: 60_000, maxEntries: 100 };
  return new ServicePersistence('svc', 'p', config);
}

/** A dispatcher with source-ip persistence over `pool`, and the client 10.0.0.1 remembered on s1. */
function remembering(pool: Pool, whenFull: 'repin' | 'wait' = 'repin'): { d: Dispatcher; p: ServicePersistence; key: string } {
  const p = sourceIp(whenFull);
  const d = new Dispatcher(pool, p, 3);
  const key = p.clientKey('10.0.0.1')!;
  const first = d.choose(key, 0, null)!;
  assert.equal(first.id, 's1');
  d.release(first, key, 0, 0);
  // round-robin's next turn is s2: a client that lands on s1 again was remembered
  return { d, p, key };
}

const id = (m: Member | undefined): string | undefined => m?.id;
const remembered = (p: ServicePersistence, key: string): string | undefined => p.table!.peek(key)?.member;

describe('dispatch: the first choice', () => {
  it('without persistence: the algorithm over usable members, counted as active', () => {
    const pool = livePool(three);
    const d = new Dispatcher(pool, null, 3);
    const m = d.choose(null, 0, null)!;
    assert.equal(m.id, 's1');
    assert.equal(m.active, 1);
    assert.equal(id(d.choose(null, 0, null)), 's2');
    d.release(m, null, 10, 20);
    assert.equal(m.active, 0);
    assert.equal(m.bytesIn, 10);
  });

  it('a remembered member that is usable wins over the algorithm', () => {
    const pool = livePool(three);
    const { d, p, key } = remembering(pool);
    assert.equal(id(d.choose(key, 0, null)), 's1');
    assert.equal(id(d.choose(key, 0, null)), 's1');
    assert.equal(p.repinned, 0);
  });

  it('a remembered member at its max-connections: the algorithm chooses another, remembered', () => {
    const pool = livePool([{ port: 1, id: 's1', maxConnections: 1 }, { port: 2, id: 's2' }, { port: 3, id: 's3' }]);
    const { d, p, key } = remembering(pool);
    d.choose(null, 0, null); // s2, round-robin's turn
    pool.member('s1')!.active = 1; // full
    const moved = d.choose(key, 0, null)!;
    assert.notEqual(moved.id, 's1');
    assert.equal(remembered(p, key), moved.id);
    assert.equal(p.repinned, 1);
  });

  it('a remembered member at its max-connections with when-full: wait: the client waits for it, served when it frees a slot', async () => {
    const pool = livePool([{ port: 1, id: 's1', maxConnections: 1 }, { port: 2, id: 's2' }]);
    const { d, key } = remembering(pool, 'wait');
    const holder = d.choose(null, 0, null)!; // s2
    assert.equal(holder.id, 's2');
    const busy = pool.member('s1')!;
    assert.ok(pool.acquireMember(busy)); // another client fills s1
    assert.equal(d.choose(key, 0, null), undefined);
    assert.equal(d.refusal(), null);
    const served = new Promise<Member | undefined>((resolve) => d.wait(key, 0, null, resolve));
    // s2 has room, but the client waits for its own member
    d.release(holder, null, 0, 0);
    assert.equal(pool.queued, 1);
    d.release(busy, null, 0, 0);
    assert.equal(id(await served), 's1');
    assert.equal(busy.active, 1);
  });

  it('a draining remembered member keeps its client; new clients go elsewhere', () => {
    const pool = livePool(three);
    const { d, key } = remembering(pool);
    pool.member('s1')!.setAdmin('drain');
    assert.equal(id(d.choose(key, 0, null)), 's1');
    assert.notEqual(id(d.choose(null, 0, null)), 's1');
  });

  it('a remembered member that is down, disabled or removed: the algorithm chooses, and the client stays on its new member', () => {
    for (const gone of [
      (pool: Pool) => pool.member('s1')!.setHealth('down'),
      (pool: Pool) => pool.member('s1')!.setAdmin('disabled'),
      (pool: Pool) => pool.reconfigure(poolConfig('round-robin', three.slice(1))),
    ]) {
      const pool = livePool(three);
      const { d, p, key } = remembering(pool);
      gone(pool);
      const moved = d.choose(key, 0, null)!;
      assert.notEqual(moved.id, 's1');
      assert.equal(remembered(p, key), moved.id);
      pool.member('s1')?.setHealth('up');
      pool.member('s1')?.setAdmin('enabled');
      assert.equal(id(d.choose(key, 0, null)), moved.id);
    }
  });

  it('backup members are chosen only when no primary is usable', () => {
    const pool = livePool([{ port: 1, id: 's1' }, { port: 2, id: 'b1', backup: true }]);
    const d = new Dispatcher(pool, null, 3);
    assert.equal(id(d.choose(null, 0, null)), 's1');
    assert.equal(id(d.choose(null, 0, null)), 's1');
    pool.member('s1')!.setHealth('down');
    assert.equal(id(d.choose(null, 0, null)), 'b1');
    pool.member('s1')!.setHealth('up');
    assert.equal(id(d.choose(null, 0, null)), 's1');
  });

  it('nothing usable: no member, and the refusal says so (refuse at once, no queue)', () => {
    const pool = livePool(three);
    const d = new Dispatcher(pool, sourceIp(), 3);
    for (const m of pool.members) m.setHealth('down');
    assert.equal(d.choose('10.0.0.1', 0, null), undefined);
    assert.equal(d.choose('10.0.0.1', 0, [pool.member('s1')!]), undefined);
    assert.equal(d.refusal(), 'unusable');
  });
});

describe('dispatch: the queue', () => {
  it('every member full: the client waits, and is served (and remembered) when a slot frees', async () => {
    const pool = livePool([{ port: 1, id: 's1', maxConnections: 1 }, { port: 2, id: 's2', maxConnections: 1 }]);
    const p = sourceIp();
    const d = new Dispatcher(pool, p, 3);
    const a = d.choose(null, 0, null)!;
    d.choose(null, 0, null);
    const key = p.clientKey('10.0.0.9')!;
    assert.equal(d.choose(key, 0, null), undefined);
    assert.equal(d.refusal(), null);
    const served = new Promise<Member | undefined>((resolve) => d.wait(key, 0, null, resolve));
    d.release(a, null, 0, 0);
    const member = (await served)!;
    assert.equal(member.id, 's1');
    d.queued(key, member);
    assert.equal(remembered(p, key), 's1');
  });

  it('times out when no slot frees within the queue timeout', async () => {
    const pool = livePool([{ port: 1, id: 's1', maxConnections: 1 }], { timeout: 20 });
    const d = new Dispatcher(pool, null, 3);
    d.choose(null, 0, null);
    assert.equal(d.choose(null, 0, null), undefined);
    const served = new Promise<Member | undefined>((resolve) => d.wait(null, 0, null, resolve));
    assert.equal(await served, undefined);
    assert.equal(pool.queueTimeouts, 1);
    assert.equal(pool.queued, 0);
  });

  it('a full queue turns the client away', () => {
    const pool = livePool([{ port: 1, id: 's1', maxConnections: 1 }], { max: 1 });
    const d = new Dispatcher(pool, null, 3);
    d.choose(null, 0, null);
    const waiter = d.wait(null, 0, null, () => {});
    assert.equal(d.choose(null, 0, null), undefined);
    assert.equal(d.refusal(), 'queue-full');
    pool.cancel(waiter);
    assert.equal(d.refusal(), null);
  });
});

describe('dispatch: the fallbacks', () => {
  it('a retry skips every member already tried', () => {
    const pool = livePool(three);
    const d = new Dispatcher(pool, null, 3);
    const tried = [pool.member('s1')!, pool.member('s2')!];
    for (let i = 0; i < 3; i++) {
      const m = d.choose(null, 0, tried)!;
      assert.equal(m.id, 's3');
      d.release(m, null, 0, 0);
    }
  });

  it('a retry after the remembered member failed: the algorithm among the others, and the new member is remembered', () => {
    const pool = livePool(three);
    const { d, p, key } = remembering(pool);
    const s1 = d.choose(key, 0, null)!;
    d.release(s1, key, 0, 0); // its connect failed
    const retry = d.choose(key, 0, [s1])!;
    assert.notEqual(retry.id, 's1');
    assert.equal(remembered(p, key), retry.id);
    assert.equal(id(d.choose(key, 0, null)), retry.id);
  });

  it('every usable member tried: the algorithm chooses among all of them again (a pool of one retries its member)', () => {
    const pool = livePool([{ port: 1, id: 's1' }]);
    const d = new Dispatcher(pool, sourceIp(), 1);
    const s1 = pool.member('s1')!;
    assert.equal(id(d.choose('10.0.0.1', 0, [s1])), 's1');
    const two = livePool([{ port: 1, id: 's1' }, { port: 2, id: 's2' }]);
    const p = sourceIp();
    const d2 = new Dispatcher(two, p, 3);
    two.member('s2')!.setHealth('down');
    // the remembered member failed and the other is down: the first again, remembered
    assert.equal(id(d2.choose('10.0.0.1', 0, [two.member('s1')!])), 's1');
    assert.equal(remembered(p, '10.0.0.1'), 's1');
  });

  it('a flow or connection ends under the rule it started with, whatever a reload did since', () => {
    const pool = livePool(three);
    const { d, p, key } = remembering(pool);
    const m = d.choose(key, 0, null)!;
    const next = new Dispatcher(pool, sourceIp(), 3); // a reload: persistence with a new table
    assert.equal(next.persistence!.table!.size, 0);
    d.release(m, key, 0, 0);
    assert.equal(remembered(p, key), 's1');
    assert.equal(next.persistence!.table!.size, 0);
    assert.equal(m.active, 0);
  });
});

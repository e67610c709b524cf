// Review of the one dispatch rule (runtime/dispatch.ts) against reloads and the queue: cases a
// stranger found where the rule and its pool disagreed with the manual.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import { Dispatcher } from '../../src/runtime/dispatch.ts';
import { RuntimeEvents } from '../../src/runtime/events.ts';
import type { Member } from '../../src/runtime/member.ts';
import { ServicePersistence } from '../../src/runtime/persistence.ts';
import { Pool } from '../../src/runtime/pool.ts';
import { pool as poolConfig, type MemberSpec } from '../helpers/config.ts';

function sourceIp(whenFull: 'repin' | 'wait'): ServicePersistence {
  const config: PersistenceConfig = { method: 'source-ip', whenFull, mask: 32, mask6: 128, timeout: 60_000, maxEntries: 100 };
  return new ServicePersistence('svc', 'p', config);
}

describe('dispatch review: a reload removes the member a client waits for', () => {
  it('the waiter goes to a member still in the pool, not the removed one', () => {
    const specs: MemberSpec[] = [{ port: 1, id: 's1', maxConnections: 1 }, { port: 2, id: 's2' }];
    const pool = new Pool('p', poolConfig('round-robin', specs, { timeout: 60_000 }), new RuntimeEvents());
    const p = sourceIp('wait');
    const d = new Dispatcher(pool, p, 3);
    const key = p.clientKey('10.0.0.1')!;
    const first = d.choose(key, 0, null)!;
    assert.equal(first.id, 's1');
    // s1 is full: the client's second connection waits for s1 (when-full: wait)
    assert.equal(d.choose(key, 0, null), undefined);
    const given: (Member | undefined)[] = [];
    const waiter = d.wait(key, 0, null, (m) => given.push(m));
    assert.equal(waiter.member?.id, 's1');
    // the reload takes s1 out of the pool; its open connection stays until it ends
    pool.reconfigure(poolConfig('round-robin', [{ port: 2, id: 's2' }], { timeout: 60_000 }));
    try {
      // served at the reload: its member is gone, any member may take it
      assert.deepEqual(given.map((m) => m?.id), ['s2']);
    } finally {
      pool.cancel(waiter);
      pool.close();
    }
  });
});

describe('dispatch review: when-full: wait on a draining member', () => {
  it('a client of a full draining member waits for it even when no member takes new clients', () => {
    const pool = new Pool('p', poolConfig('round-robin', [{ port: 1, id: 's1', maxConnections: 1 }], { timeout: 60_000 }), new RuntimeEvents());
    const p = sourceIp('wait');
    const d = new Dispatcher(pool, p, 3);
    const key = p.clientKey('10.0.0.1')!;
    const first = d.choose(key, 0, null)!;
    assert.equal(first.id, 's1');
    // maintenance begins: s1 drains, keeping its persistent clients
    first.setAdmin('drain');
    assert.equal(d.choose(key, 0, null), undefined);
    // the client's member serves it still, only full: it may wait, as it would with another member up
    assert.equal(d.refusal(key, null), null);
    const given: (Member | undefined)[] = [];
    const waiter = d.wait(key, 0, null, (m) => given.push(m));
    assert.equal(waiter.member?.id, 's1');
    d.release(first, key, 0, 0);
    assert.deepEqual(given.map((m) => m?.id), ['s1']);
    // a client without a member there is refused at once, as before
    assert.equal(d.choose(p.clientKey('10.0.0.2'), 0, null), undefined);
    assert.equal(d.refusal(p.clientKey('10.0.0.2'), null), 'unusable');
    pool.close();
  });
});

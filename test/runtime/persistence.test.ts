// The persistence rule on live pools and members, without sockets: a remembered (or named)
// member wins while it may take the client; otherwise the algorithm chooses and, for stateful
// methods, the new choice is remembered.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import { RuntimeEvents } from '../../src/runtime/events.ts';
import type { Member } from '../../src/runtime/member.ts';
import { Dispatcher } from '../../src/runtime/dispatch.ts';
import { ServicePersistence } from '../../src/runtime/persistence.ts';
import { Pool } from '../../src/runtime/pool.ts';
import { sessionIdKey, ticketKey } from '../../src/persistence/tls-session.ts';
import { pool as poolConfig, type MemberSpec } from '../helpers/config.ts';

function livePool(specs: MemberSpec[], algorithm: 'round-robin' | 'least-connections' = 'round-robin'): Pool {
  return new Pool('p', poolConfig(algorithm, specs), new RuntimeEvents());
}

const three = [{ port: 1, id: 's1' }, { port: 2, id: 's2' }, { port: 3, id: 's3' }];

function sourceIp(extra: Partial<PersistenceConfig> = {}, now?: () => number): ServicePersistence {
  const config = { method: 'source-ip', whenFull: 'repin', mask: 24, mask6: 128, timeout: 60_000, maxEntries: 100, ...extra } as PersistenceConfig;
  return new ServicePersistence('svc', 'p', config, now);
}

/** The member the dispatch rule gives a client of `p` with `key` (counted as active). */
function acquire(p: ServicePersistence, pool: Pool, key: string | null, hash: number, skip: readonly Member[] | null): Member | undefined {
  return new Dispatcher(pool, p, 3).choose(key, hash, skip);
}

/** Takes a member for the client at `address` and gives it back at once (a short connection). */
function visit(p: ServicePersistence, pool: Pool, address: string): string | undefined {
  const key = p.clientKey(address);
  const member = acquire(p, pool, key, 0, null);
  if (member === undefined) return undefined;
  pool.release(member, 0, 0);
  if (key !== null) p.ended(key, member);
  return member.id;
}

describe('persistence rule: source-ip', () => {
  it('pins a network to one member; another network goes where the algorithm says', () => {
    const pool = livePool(three);
    const p = sourceIp();
    assert.equal(visit(p, pool, '10.0.0.1'), 's1');
    assert.equal(visit(p, pool, '10.0.1.1'), 's2');
    // round-robin alone would go on to s3, s1, ...
    assert.equal(visit(p, pool, '10.0.0.2'), 's1');
    assert.equal(visit(p, pool, '10.0.0.200'), 's1');
    assert.equal(visit(p, pool, '10.0.1.9'), 's2');
    assert.deepEqual(p.table!.counters, { hits: 3, misses: 2, expirations: 0, evictions: 0 });
    assert.deepEqual(p.table!.entries().map((e) => [e.key, e.member]), [['10.0.1.0/24', 's2'], ['10.0.0.0/24', 's1']]);
  });

  it('re-pins when the member goes down, and stays on the new member when it comes back', () => {
    const pool = livePool(three);
    const p = sourceIp();
    assert.equal(visit(p, pool, '10.0.0.1'), 's1');
    pool.member('s1')!.setHealth('down');
    const moved = visit(p, pool, '10.0.0.1');
    assert.notEqual(moved, 's1');
    assert.equal(p.repinned, 1);
    pool.member('s1')!.setHealth('up');
    assert.equal(visit(p, pool, '10.0.0.1'), moved);
  });

  it('re-pins when the member is disabled or its agent says down; not when it drains', () => {
    for (const [change, stays] of [
      [(m: Member) => m.setAdmin('disabled'), false],
      [(m: Member) => m.setAgent({ state: 'down', percent: 100, maxConnections: null, message: 'down', at: 0 }), false],
      [(m: Member) => m.setAdmin('drain'), true],
      [(m: Member) => m.setAgent({ state: 'drain', percent: 100, maxConnections: null, message: 'drain', at: 0 }), true],
    ] as const) {
      const pool = livePool(three);
      const p = sourceIp();
      assert.equal(visit(p, pool, '10.0.0.1'), 's1');
      change(pool.member('s1')!);
      assert.equal(visit(p, pool, '10.0.0.1') === 's1', stays);
    }
  });

  it('drain keeps persistent clients on the draining member and sends new ones elsewhere', () => {
    const pool = livePool(three);
    const p = sourceIp();
    assert.equal(visit(p, pool, '10.0.0.1'), 's1');
    pool.member('s1')!.setAdmin('drain');
    for (let i = 0; i < 6; i++) assert.notEqual(visit(p, pool, `10.0.${10 + i}.1`), 's1');
    assert.equal(visit(p, pool, '10.0.0.77'), 's1');
  });

  it('re-pins when the member is full, and counts the new connection on the new member', () => {
    const pool = livePool([{ port: 1, id: 's1', maxConnections: 1 }, { port: 2, id: 's2' }]);
    const p = sourceIp();
    const first = acquire(p, pool, p.clientKey('10.0.0.1'), 0, null)!;
    assert.equal(first.id, 's1');
    const second = acquire(p, pool, p.clientKey('10.0.0.2'), 0, null)!;
    assert.equal(second.id, 's2');
    assert.equal(pool.member('s1')!.active, 1);
    assert.equal(pool.member('s2')!.active, 1);
    assert.equal(p.table!.peek('10.0.0.0/24')!.member, 's2');
  });

  it('skips a member this connection already failed to reach', () => {
    const pool = livePool(three);
    const p = sourceIp();
    assert.equal(visit(p, pool, '10.0.0.1'), 's1');
    const retry = acquire(p, pool, p.clientKey('10.0.0.1'), 0, [pool.member('s1')!])!;
    assert.notEqual(retry.id, 's1');
    assert.equal(p.table!.peek('10.0.0.0/24')!.member, retry.id);
  });

  it('forgets a client after its timeout of inactivity, counted from its last connection', () => {
    const clock = { now: 1000 };
    const pool = livePool(three);
    const p = sourceIp({ timeout: 1000 }, () => clock.now);
    const key = p.clientKey('10.0.0.1');
    const long = acquire(p, pool, key, 0, null)!; // a connection that lasts
    assert.equal(long.id, 's1');
    clock.now = 5000; // longer than the timeout: the entry has aged, but the connection is live
    pool.release(long, 0, 0);
    p.ended(key, long); // its end starts the timeout again
    clock.now = 5900;
    assert.equal(visit(p, pool, '10.0.0.1'), 's1');
    clock.now = 7000; // 1100 ms since the last connection ended
    assert.equal(visit(p, pool, '10.0.0.1'), 's2');
    assert.equal(p.table!.counters.expirations, 1);
  });

  it('evicts the least recently seen client beyond max-entries', () => {
    const pool = livePool(three);
    const p = sourceIp({ maxEntries: 2, mask: 32 });
    visit(p, pool, '10.0.0.1');
    visit(p, pool, '10.0.0.2');
    visit(p, pool, '10.0.0.1');
    visit(p, pool, '10.0.0.3');
    assert.deepEqual(p.table!.entries().map((e) => e.key), ['10.0.0.3', '10.0.0.1']);
    assert.equal(p.table!.counters.evictions, 1);
  });

  it('forgets a client whose remembered member left the pool', () => {
    const pool = livePool(three);
    const p = sourceIp();
    assert.equal(visit(p, pool, '10.0.0.1'), 's1');
    pool.reconfigure(poolConfig('round-robin', three.slice(1)));
    assert.notEqual(visit(p, pool, '10.0.0.1'), 's1');
  });
});

describe('persistence rule: tls-session', () => {
  const id = Buffer.alloc(32, 1);
  const ticket = Buffer.alloc(160, 2);

  it('pins what the member\'s handshake named, by session ID or ticket, until the timeout', () => {
    const clock = { now: 1000 };
    const pool = livePool(three);
    const p = new ServicePersistence('svc', 'p', { method: 'tls-session', whenFull: 'repin', timeout: 5000, maxEntries: 100 }, () => clock.now);
    // a first handshake: the client offers nothing, the algorithm chooses, the member names its session
    assert.equal(p.helloKey({ sessionId: null, ticket: null, offersTls13: false }), null);
    const first = acquire(p, pool, null, 0, null)!;
    assert.equal(first.id, 's1');
    assert.equal(p.table!.size, 0); // nothing is remembered from the client's side
    p.learned(sessionIdKey(id), first);
    p.learned(ticketKey(ticket), first);
    // resumptions: by session ID, by ticket; a ticket the table knows wins over an unknown ID
    assert.equal(acquire(p, pool, p.helloKey({ sessionId: id, ticket: null, offersTls13: false }), 0, null)!.id, 's1');
    const byTicket = p.helloKey({ sessionId: Buffer.alloc(32, 9), ticket, offersTls13: false });
    assert.equal(byTicket, ticketKey(ticket));
    assert.equal(acquire(p, pool, byTicket, 0, null)!.id, 's1');
    // an unknown ticket with an ID: the ID is the key
    assert.equal(p.helloKey({ sessionId: id, ticket: Buffer.alloc(10, 3), offersTls13: false }), sessionIdKey(id));
    clock.now = 6001 + 1000;
    assert.notEqual(acquire(p, pool, p.helloKey({ sessionId: id, ticket: null, offersTls13: false }), 0, null)!.id, 's1');
    assert.equal(p.table!.counters.expirations, 1);
  });
});

describe('persistence rule: stateless methods', () => {
  it('url: the member the URL names, while it may take the client; an unknown id is ignored', () => {
    const pool = livePool(three);
    const p = new ServicePersistence('svc', 'p', { method: 'url', whenFull: 'repin', source: 'path-parameter', name: 'jsessionid', segment: null, separator: '.' });
    assert.equal(p.table, null);
    const key = p.requestKey({ target: '/cart;jsessionid=ABC.s3', header: () => undefined });
    assert.equal(key, 's3');
    assert.equal(acquire(p, pool, key, 0, null)!.id, 's3');
    assert.equal(acquire(p, pool, 's9', 0, null)!.id, 's1');
    pool.member('s3')!.setHealth('down');
    assert.notEqual(acquire(p, pool, key, 0, null)!.id, 's3');
  });

  it('cookie: the member a signed value names; a forged or foreign value goes to the algorithm', () => {
    const pool = livePool(three);
    const config = { method: 'cookie', whenFull: 'repin', cookie: 'FWSRV', mode: 'insert', path: '/', domain: null, httpOnly: true, secure: false, sameSite: 'lax', maxAge: null, secret: 'a-secret-of-some-length', exposeAddress: false } as const;
    const p = new ServicePersistence('svc', 'p', config);
    const other = new ServicePersistence('other', 'p', config);
    const value = p.cookie!.valueFor(pool.member('s3')!);
    assert.equal(acquire(p, pool, value, 0, null)!.id, 's3');
    // round-robin goes s1, s2, s1, ...: none of these reach s3
    assert.equal(acquire(other, pool, value, 0, null)!.id, 's1'); // another service's value
    assert.equal(acquire(p, pool, 's3', 0, null)!.id, 's2'); // the plain id is not a value
    const forged = `${value.slice(0, -2)}${value.endsWith('AA') ? 'BB' : 'AA'}`;
    assert.equal(p.cookie!.memberOf(forged, pool.members), undefined);
  });

  it('hash: one key keeps one member; the keys of a member that goes down move, the others stay', () => {
    const pool = livePool(three);
    const p = new ServicePersistence('svc', 'p', { method: 'hash', whenFull: 'repin', source: 'query', name: 'user', segment: null });
    const keys = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const choose = (key: string): string => {
      const m = acquire(p, pool, key, 0, null)!;
      pool.release(m, 0, 0);
      return m.id;
    };
    const before = keys.map(choose);
    assert.deepEqual(keys.map(choose), before);
    for (const id of ['s1', 's2', 's3']) assert.ok(before.filter((m) => m === id).length > 60, `${id} has a share`);
    pool.member('s2')!.setHealth('down');
    const after = keys.map(choose);
    keys.forEach((_, i) => {
      if (before[i] !== 's2') assert.equal(after[i], before[i]);
      else assert.notEqual(after[i], 's2');
    });
    assert.equal(p.requestKey({ target: '/cart?user=42', header: () => undefined }), '42');
    assert.equal(p.requestKey({ target: '/cart', header: () => undefined }), null);
  });
});

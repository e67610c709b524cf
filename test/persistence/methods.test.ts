// The persistence methods behind their one interface (persistence/method.ts), pure: what each
// says it is (stateful, where its key comes from, what the kernel keeps), and how its state
// reads a key and names a member, over plain member objects (no runtime).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import type { MemberSet, Stickable } from '../../src/persistence/method.ts';
import { cookieOf } from '../../src/persistence/cookie.ts';
import { methodOf, PERSISTENCE_METHODS } from '../../src/persistence/methods.ts';
import { sessionIdKey } from '../../src/persistence/tls-session.ts';

interface Plain extends Stickable {
  id: string;
  weight: number;
  backup: boolean;
  usable: boolean;
}

function members(...ids: string[]): MemberSet<Plain> {
  const list: Plain[] = ids.map((id, i) => ({ id, weight: 1, backup: false, usable: true, active: 0, latency: 0, endpoint: `10.0.0.${i + 1}:80` }));
  return { members: list, member: (id) => list.find((m) => m.id === id) };
}

const context = { scope: 'svc', secret: Buffer.alloc(32, 1) };

const sourceIp: PersistenceConfig = { method: 'source-ip', whenFull: 'repin', mask: 24, mask6: 64, timeout: 60_000, maxEntries: 10 };
const tlsSession: PersistenceConfig = { method: 'tls-session', whenFull: 'repin', timeout: 60_000, maxEntries: 10 };
const cookie: PersistenceConfig = { method: 'cookie', whenFull: 'repin', cookie: 'FWSRV', mode: 'insert', path: '/', domain: null, httpOnly: true, secure: false, sameSite: 'lax', maxAge: null, secret: null, exposeAddress: false };
const url: PersistenceConfig = { method: 'url', whenFull: 'repin', source: 'query', name: 'route', segment: null, separator: '' };
const hash: PersistenceConfig = { method: 'hash', whenFull: 'repin', source: 'query', name: 'user', segment: null };

describe('persistence methods: what each is', () => {
  it('one registry line per method, under its own name', () => {
    for (const [name, method] of Object.entries(PERSISTENCE_METHODS)) assert.equal(method.name, name);
    assert.deepEqual(Object.keys(PERSISTENCE_METHODS).sort(), ['cookie', 'hash', 'source-ip', 'tls-session', 'url']);
  });

  it('stateful ones keep a table; keys come from the address, the ClientHello or the request', () => {
    const facts = [sourceIp, tlsSession, cookie, url, hash].map((c) => {
      const m = methodOf(c);
      const state = m.create<Plain>(c, context);
      return [c.method, m.stateful, state.table !== null, m.keySource, m.remembersChoice];
    });
    assert.deepEqual(facts, [
      ['source-ip', true, true, 'address', true],
      ['tls-session', true, true, 'tls-hello', false],
      ['cookie', false, false, 'request', false],
      ['url', false, false, 'request', false],
      ['hash', false, false, 'request', false],
    ]);
  });

  it('the kernel keeps source-ip only: a set per member by client network, of the family\'s prefix', () => {
    assert.deepEqual(methodOf(sourceIp).kernel?.(sourceIp, 'ip'), { prefix: 24, timeout: 60_000, size: 10 });
    assert.deepEqual(methodOf(sourceIp).kernel?.(sourceIp, 'ip6'), { prefix: 64, timeout: 60_000, size: 10 });
    for (const c of [tlsSession, cookie, url, hash]) assert.equal(methodOf(c).kernel, null);
  });
});

describe('persistence methods: keys and members', () => {
  it('source-ip: the masked address is the key; the table names the member', () => {
    const state = methodOf(sourceIp).create<Plain>(sourceIp, context);
    const key = state.addressKey!('192.0.2.77')!;
    assert.equal(key, '192.0.2.0/24');
    const pool = members('a', 'b');
    assert.equal(state.named(key, pool), undefined);
    state.table!.set(key, 'b');
    assert.equal(state.named(key, pool)?.id, 'b');
    assert.equal(state.named(key, members('a')), undefined); // a member gone from the pool
  });

  it('tls-session: the session ID a ClientHello offers is the key', () => {
    const state = methodOf(tlsSession).create<Plain>(tlsSession, context);
    const id = Buffer.alloc(32, 7);
    assert.equal(state.helloKey!({ sessionId: id, ticket: null, offersTls13: false }), sessionIdKey(id));
    assert.equal(state.helloKey!({ sessionId: null, ticket: null, offersTls13: true }), null);
  });

  it('cookie: a value names its member; a foreign value none', () => {
    const state = methodOf(cookie).create<Plain>(cookie, context);
    const pool = members('a', 'b');
    const value = cookieOf(state)!.valueFor(pool.members[1]);
    assert.equal(state.named(value, pool)?.id, 'b');
    assert.equal(state.named('not-a-value', pool), undefined);
  });

  it('url: the id the request carries names the member', () => {
    const state = methodOf(url).create<Plain>(url, context);
    const key = state.requestKey!({ target: '/cart?route=b', header: () => undefined })!;
    assert.equal(state.named(key, members('a', 'b'))?.id, 'b');
    assert.equal(state.requestKey!({ target: '/cart', header: () => undefined }), null);
  });

  it('hash: one key keeps one member, another when that one is skipped; no table names it', () => {
    const state = methodOf(hash).create<Plain>(hash, context);
    const pool = members('a', 'b', 'c');
    const key = state.requestKey!({ target: '/?user=42', header: () => undefined })!;
    assert.equal(state.named(key, pool), undefined);
    const first = state.choose!(key, pool, null)!;
    assert.equal(state.choose!(key, pool, null), first);
    const other = state.choose!(key, pool, [first])!;
    assert.notEqual(other, first);
    assert.equal(typeof state.hashOf!(key), 'number');
  });
});

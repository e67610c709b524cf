// Review of the one dispatch rule through real tcp services on loopback: least-connections'
// `active` back to 0 after every path (connect refused and retried, queue timeout, client gone
// while queued, reload), and a client waiting for its own member when a reload removes it.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { before, describe, it } from 'node:test';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import type { Furiwake } from '../../src/app.ts';
import type { Member } from '../../src/runtime/member.ts';
import { startApp } from '../helpers/app.ts';
import { exchange, greeted, udpClient } from '../helpers/clients.ts';
import { pool, single, type MemberSpec } from '../helpers/config.ts';
import { freePort, refusedPort } from '../helpers/ports.ts';
import { startTcpServer, startUdpServer, type TcpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';
import { bodyOf, httpConfig, raw, startMember, type HttpMember } from './http/helpers.ts';

const waitFor: PersistenceConfig = { method: 'source-ip', whenFull: 'wait', mask: 32, mask6: 128, timeout: 60_000, maxEntries: 100 };

function members(app: Furiwake): Member[] {
  return app.runtime.pools.get('p')!.members;
}

/** Every member's active count, by id. */
function active(app: Furiwake): Record<string, number> {
  return Object.fromEntries(members(app).map((m) => [m.id, m.active]));
}

describe('dispatch review over tcp', () => {
  let a: TcpServer;
  let b: TcpServer;
  let dead: number;
  before(async () => {
    [a, b] = await Promise.all([startTcpServer('a'), startTcpServer('b')]);
    dead = refusedPort();
  });

  it('least-connections: active is 0 again after refusals, retries, a queue timeout and a client gone while queued', async () => {
    const specs: MemberSpec[] = [{ port: dead, id: 'dead' }, { port: a.port, id: 'a', maxConnections: 1 }];
    const app = await startApp(single('tcp', pool('least-connections', specs, { timeout: 150, max: 10 }), { persistence: waitFor }));
    const port = app.address('svc').port;
    const held = await greeted(port);
    assert.equal(held.line, 'a');
    assert.deepEqual(active(app), { dead: 0, a: 1 });
    // a is full: the client waits for it, and is turned away at the queue timeout
    const late = await exchange(port);
    assert.equal(late.data.length, 0);
    assert.deepEqual(active(app), { dead: 0, a: 1 });
    // a client that leaves while queued gives its place back
    const gone = net.connect({ port, host: '127.0.0.1' });
    gone.on('error', () => {});
    await until(() => app.runtime.pools.get('p')!.queued === 1);
    gone.destroy();
    await until(() => app.runtime.pools.get('p')!.queued === 0);
    held.socket.resume();
    held.socket.end();
    await once(held.socket, 'close');
    await app.runtime.connections.drained();
    assert.deepEqual(active(app), { dead: 0, a: 0 });
  });

  it('a client waiting for its own member goes to another when a reload removes that member', async () => {
    const specs: MemberSpec[] = [{ port: a.port, id: 'a', maxConnections: 1 }, { port: b.port, id: 'b' }];
    const config = single('tcp', pool('round-robin', specs, { timeout: 60_000 }), { persistence: waitFor });
    const app = await startApp(config);
    const port = app.address('svc').port;
    const held = await greeted(port);
    assert.equal(held.line, 'a');
    const waiting = greeted(port);
    await until(() => app.runtime.pools.get('p')!.queued === 1);
    await app.reload({ ...config, pools: { p: pool('round-robin', [{ port: b.port, id: 'b' }], { timeout: 60_000 }) } });
    // served by b at the reload, while a's connection stays open (not at the queue timeout, nor by a once free)
    const second = await waiting;
    assert.equal(second.line, 'b');
    for (const s of [held.socket, second.socket]) {
      s.resume();
      s.end();
    }
    await app.runtime.connections.drained();
    assert.deepEqual(active(app), { b: 0 });
    assert.equal(app.runtime.pools.get('p')!.queued, 0);
  });
  it('when-full: wait: a client of its full draining member waits for it (the only member) instead of a reset', async () => {
    const config = single('tcp', pool('round-robin', [{ port: a.port, id: 'a', maxConnections: 1 }], { timeout: 60_000 }), { persistence: waitFor });
    const app = await startApp(config);
    const port = app.address('svc').port;
    const held = await greeted(port);
    assert.equal(held.line, 'a');
    app.runtime.member('p', 'a')!.setAdmin('drain');
    const waiting = greeted(port);
    await until(() => app.runtime.pools.get('p')!.queued === 1);
    held.socket.resume();
    held.socket.end();
    const second = await waiting;
    assert.equal(second.line, 'a');
    second.socket.resume();
    second.socket.end();
    await app.runtime.connections.drained();
    assert.deepEqual(active(app), { a: 0 });
  });
});

describe('dispatch review over http', () => {
  let m1: HttpMember;
  let m2: HttpMember;
  let dead: number;
  before(async () => {
    [m1, m2] = await Promise.all([startMember('m1'), startMember('m2')]);
    dead = refusedPort();
  });

  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

  it('url naming a member that refuses: retried on another member each time, and active back to 0', async () => {
    const specs: MemberSpec[] = [{ port: dead, id: 'dead' }, { port: m1.port, id: 'm1' }, { port: m2.port, id: 'm2' }];
    const config = httpConfig(pool('least-connections', specs));
    config.services.svc.persistence = { method: 'url', whenFull: 'repin', source: 'query', name: 'srv', segment: null, separator: '' };
    const app = await startApp(config);
    const port = app.address('svc').port;
    for (let i = 0; i < 4; i++) {
      const res = await raw(port, get('/?srv=dead'));
      assert.equal(res.status, 200);
      assert.match(bodyOf(res.text), /^m[12] /);
    }
    await app.runtime.connections.drained();
    assert.deepEqual(active(app), { dead: 0, m1: 0, m2: 0 });
    assert.equal(members(app)[0].failed, 4);
  });

  it('hash over members that all refuse: 502 after retries, active back to 0', async () => {
    const other = await freePort();
    const config = httpConfig(pool('least-connections', [{ port: dead, id: 'd1' }, { port: other, id: 'd2' }]), {}, { retries: 3 });
    config.services.svc.persistence = { method: 'hash', whenFull: 'repin', source: 'header', name: 'x-user', segment: null };
    const app = await startApp(config);
    const port = app.address('svc').port;
    const res = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-User: 42\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 502);
    await app.runtime.connections.drained();
    assert.deepEqual(active(app), { d1: 0, d2: 0 });
    assert.equal(members(app).reduce((n, m) => n + m.failed, 0), 4);
  });
  it('source-ip, when-full: wait: a request queued for its full member whose client leaves gives its place back; active back to 0', async () => {
    let answer: (() => void) | null = null;
    // the first request is answered when the test says; later ones at once
    const slow = await startMember('slow', (_req, res) => {
      if (answer === null) answer = () => res.end('slow');
      else res.end('slow');
    });
    const config = httpConfig(pool('least-connections', [{ port: slow.port, id: 'slow', maxConnections: 1 }], { timeout: 60_000 }));
    config.services.svc.persistence = waitFor;
    const app = await startApp(config);
    const port = app.address('svc').port;
    const first = raw(port, get('/1'));
    await until(() => answer !== null);
    const gone = net.connect({ port, host: '127.0.0.1' });
    gone.on('error', () => {});
    gone.write(get('/2'));
    await until(() => app.runtime.pools.get('p')!.queued === 1);
    // a reset: a client that only half-closes after its request is still reading (docs/http.md)
    gone.resetAndDestroy();
    await until(() => app.runtime.pools.get('p')!.queued === 0);
    answer!();
    assert.equal((await first).status, 200);
    await app.runtime.connections.drained();
    assert.deepEqual(active(app), { slow: 0 });
    assert.deepEqual(slow.requests.map((r) => r.url), ['/1']);
    // the client's entry names its member still, and a next request goes there
    assert.equal(bodyOf((await raw(port, get('/3'))).text), 'slow');
  });
});

describe('dispatch review over udp', () => {
  it('source-ip: a new flow of a client whose member drains goes to it, even when no member takes new clients', async () => {
    const a = await startUdpServer('a');
    const persistence: PersistenceConfig = { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 60_000, maxEntries: 100 };
    const app = await startApp(single('udp', pool('round-robin', [{ port: a.port, id: 'a' }]), { persistence }));
    const port = app.address('svc').port;
    const first = await udpClient();
    assert.equal((await first.ask(port, 'x')).text, 'a:x');
    app.runtime.member('p', 'a')!.setAdmin('drain');
    // another socket of the same client: a new flow, which its draining member still takes
    const second = await udpClient();
    assert.equal((await second.ask(port, 'y')).text, 'a:y');
    await Promise.all([first.close(), second.close()]);
  });
});

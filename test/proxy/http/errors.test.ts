// When members fail, the client gets HTTP: 502 (a member failed), 503 with Retry-After (none
// usable, or every one busy and the queue full), 504 (no answer in time). A request is sent
// again only while that is safe: a GET whose member reset before any response byte goes to
// another member; a POST that went out is never sent twice. A kept member connection found
// closed is replaced by a fresh one, once.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { freePort } from '../../helpers/ports.ts';
import { startTcpServer, type TcpServer } from '../../helpers/servers.ts';
import { bodyOf, connection, headerOf, httpConfig, raw, startMember } from './helpers.ts';

function tcpMember(handler: (s: net.Socket) => void): Promise<TcpServer> {
  return startTcpServer('raw', handler);
}

/** A member that reads a request head and then resets the connection without a byte of answer. */
function resetAfterHead(socket: net.Socket): void {
  let text = '';
  socket.on('data', (c: Buffer) => {
    text += c.toString('latin1');
    if (text.includes('\r\n\r\n')) socket.resetAndDestroy();
  });
}

const ok = (body: string): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

describeOnEachEngine('http errors', () => {
  it('answers 502 when no member can be reached', async () => {
    const app = await startApp(httpConfig(pool('round-robin', [{ port: await freePort(), id: 'gone' }]), {}, { retries: 1 }));
    const got = await raw(app.address('svc').port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(got.status, 502);
    assert.match(bodyOf(got.text), /^502 Bad Gateway: cannot connect to a member: ECONNREFUSED\n$/);
    assert.equal(app.runtime.member('p', 'gone')!.failed, 2);
    assert.equal(app.runtime.member('p', 'gone')!.active, 0);
  });

  it('answers 503 with Retry-After when no member is usable', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, id: 'a' }])));
    app.runtime.member('p', 'a')!.setHealth('down', 'test');
    const c = await connection(app.address('svc').port);
    const got = await c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(got, /^HTTP\/1.1 503 Service Unavailable\r\n/);
    assert.equal(headerOf(got, 'retry-after'), '1');
    assert.match(bodyOf(got), /no member is available/);
    // a request without a body leaves the connection usable
    app.runtime.member('p', 'a')!.setHealth('up', 'test');
    assert.equal(bodyOf(await c.send('GET /again HTTP/1.1\r\nHost: x\r\n\r\n')), 'a GET /again');
    await c.close();
    assert.equal(m.requests.length, 1);
  });

  it('queues a request while every member is busy, and answers 503 when the queue is full', async () => {
    let release = (): void => {};
    const m = await startMember('a', (req, res) => {
      if (req.url === '/hold') release = () => res.end('held');
      else res.end('quick');
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, maxConnections: 1 }], { max: 1, timeout: 5_000 })));
    const port = app.address('svc').port;
    const held = await connection(port);
    const first = held.send('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    while (m.requests.length === 0) await new Promise((r) => setImmediate(r));
    const queued = await connection(port);
    const second = queued.send('GET /queued HTTP/1.1\r\nHost: x\r\n\r\n');
    while (app.runtime.pools.get('p')!.queued === 0) await new Promise((r) => setImmediate(r));
    const refused = await raw(port, 'GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(refused.status, 503);
    assert.equal(headerOf(refused.text, 'retry-after'), '1');
    assert.match(bodyOf(refused.text), /queue is full/);
    release();
    assert.equal(bodyOf(await first), 'held');
    assert.equal(bodyOf(await second), 'quick');
    await held.close();
    await queued.close();
    assert.deepEqual(m.requests.map((r) => r.url), ['/hold', '/queued']);
  });

  it('answers 503 when the queue timeout passes', async () => {
    const m = await startMember('a', () => {}); // never answers: holds its only slot
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, maxConnections: 1 }], { max: 5, timeout: 100 }), { timeouts: { headers: 10_000, response: 60_000, keepAlive: 30_000, request: 0, body: 60_000, minBodyRate: 500 } }));
    const port = app.address('svc').port;
    const c = await connection(port);
    void c.send('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n').catch(() => {});
    while (m.requests.length === 0) await new Promise((r) => setImmediate(r));
    const got = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(got.status, 503);
    assert.match(bodyOf(got.text), /queue timeout/);
    c.socket.destroy();
  });

  it('answers 504 when the member does not respond in time, and drops that member connection', async () => {
    let memberClosed: () => void = () => {};
    const closed = new Promise<void>((resolve) => (memberClosed = resolve));
    const silent = await tcpMember((socket) => {
      socket.on('data', () => {});
      socket.on('end', () => socket.end());
      socket.on('close', () => memberClosed());
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: silent.port, id: 's' }]), { timeouts: { headers: 10_000, response: 150, keepAlive: 30_000, request: 0, body: 60_000, minBodyRate: 500 } }));
    const got = await raw(app.address('svc').port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(got.status, 504);
    assert.match(bodyOf(got.text), /did not respond within 150 ms/);
    await closed;
    assert.equal(app.runtime.member('p', 's')!.active, 0);
  });

  it('answers 502 to a response it cannot read', async () => {
    const bad = await tcpMember((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'));
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: bad.port }])));
    const got = await raw(app.address('svc').port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(got.status, 502);
    assert.match(bodyOf(got.text), /conflicting Content-Length/);
  });

  it('sends a GET to another member when the first resets before any response byte', async () => {
    const a = await tcpMember(resetAfterHead);
    const b = await startMember('b');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }])));
    const got = await raw(app.address('svc').port, 'GET /safe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(got.status, 200);
    assert.equal(bodyOf(got.text), 'b GET /safe');
    assert.equal(a.accepted, 1);
    assert.equal(app.runtime.member('p', 'a')!.failed, 1);
    assert.equal(app.runtime.member('p', 'a')!.active, 0);
    assert.equal(app.runtime.member('p', 'b')!.active, 0);
  });

  it('never sends a POST again once it went out: 502', async () => {
    const a = await tcpMember(resetAfterHead);
    const b = await startMember('b');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }])));
    const got = await raw(app.address('svc').port, 'POST /unsafe HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndata');
    assert.equal(got.status, 502);
    assert.match(bodyOf(got.text), /closed the connection before responding/);
    assert.equal(b.requests.length, 0);
    assert.equal(app.runtime.member('p', 'a')!.active, 0);
  });

  it('sends a POST to another member when the first cannot be connected: nothing went out', async () => {
    const b = await startMember('b');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: await freePort() }, { port: b.port }])));
    const got = await raw(app.address('svc').port, 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndata');
    assert.equal(got.status, 200);
    assert.equal(b.requests[0].body.toString(), 'data');
  });

  it('replaces a kept connection the member had closed: a GET goes out again on a fresh one', async () => {
    // The member answers the first request of each connection and closes the connection as
    // the second one arrives, without a byte: the stale keep-alive race, made certain.
    const heads: string[] = [];
    const m = await tcpMember((socket) => {
      let served = 0;
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        let end;
        while ((end = text.indexOf('\r\n\r\n')) !== -1) {
          heads.push(text.slice(0, text.indexOf(' HTTP/')));
          text = text.slice(end + 4);
          if (served++ === 0) socket.write(ok('first'));
          else socket.destroy();
        }
      });
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, id: 'm' }])));
    const c = await connection(app.address('svc').port);
    assert.equal(bodyOf(await c.send('GET /1 HTTP/1.1\r\nHost: x\r\n\r\n')), 'first');
    assert.equal(bodyOf(await c.send('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n')), 'first');
    assert.equal(m.accepted, 2);
    assert.deepEqual(heads, ['GET /1', 'GET /2', 'GET /2']);
    // and a POST is not sent twice: its client gets a 502
    const post = await c.send('POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx');
    assert.match(post, /^HTTP\/1.1 502 /);
    assert.deepEqual(heads, ['GET /1', 'GET /2', 'GET /2', 'POST /3']);
    await c.close();
    assert.equal(app.runtime.member('p', 'm')!.active, 0);
  });
});

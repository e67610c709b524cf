// Requests built to be read two ways (request smuggling) are refused with 400 before anything
// reaches a member; oversized request lines and heads get 414 and 431; a client that sends its
// head slowly gets 408 when the headers timeout passes, however it trickles; a client that
// goes away mid-request frees its member connection and its place in the connection table.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { HttpServiceConfig } from '../../../src/config/http-types.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { bodyOf, connection, httpConfig, raw, startMember } from './helpers.ts';

const quick: Partial<HttpServiceConfig> = { timeouts: { headers: 300, response: 60_000, keepAlive: 300, request: 0, body: 60_000, minBodyRate: 500 } };

describe('request smuggling shapes', () => {
  const shapes: [string, string, number][] = [
    ['Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX', 400],
    ['Transfer-Encoding and Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nX', 400],
    ['two equal Content-Lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 400],
    ['two different Content-Lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 10\r\n\r\nabc', 400],
    ['a Content-Length list', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc', 400],
    ['a signed Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc', 400],
    ['an obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n', 400],
    ['a folded Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n', 400],
    ['a space before the colon', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n', 400],
    ['a bare LF line end', 'GET / HTTP/1.1\r\nHost: x\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['a bare CR', 'GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n', 400],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n', 400],
    ['an invalid header name', 'GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n', 400],
    ['a bad chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', 400],
    ['a negative chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n', 400],
    ['an overlong chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n', 400],
    ['a chunk longer than its size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n', 400],
    ['a chunk size with a space', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n', 400],
    ['an unknown transfer coding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', 501],
    ['Transfer-Encoding in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['Connection naming Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: 3\r\n\r\nabc', 400],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', 400],
    ['no Host', 'GET / HTTP/1.1\r\n\r\n', 400],
  ];

  for (const [name, text, status] of shapes) {
    it(`refuses ${name} (${status}) and closes, with nothing sent to the member`, async () => {
      const m = await startMember('a');
      const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
      const got = await raw(app.address('svc').port, text);
      assert.equal(got.status, status, got.text);
      assert.match(got.text, /\r\nconnection: close\r\n/);
      assert.equal(got.ending, 'end');
      assert.equal(m.accepted, 0);
      assert.equal(m.requests.length, 0);
    });
  }

  it('refuses a malformed chunk after a good one without sending the rest, and closes both sides', async () => {
    let memberClosed = (): void => {};
    const closed = new Promise<void>((resolve) => (memberClosed = resolve));
    const m = await startMember('a', (req, res) => {
      req.on('data', () => {});
      req.on('error', () => {});
      req.socket.on('close', () => memberClosed());
      res.on('error', () => {});
    }, { stream: true });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const c = await connection(app.address('svc').port);
    c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    while (m.requests.length === 0) await new Promise((r) => setImmediate(r));
    const got = await c.send('zz\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.includes('\r\n\r\n'));
    assert.match(got, /^HTTP\/1.1 400 /);
    await closed;
    await c.close();
    assert.deepEqual(m.requests.map((r) => r.url), ['/']);
    await app.runtime.connections.drained();
  });
});

describe('limits', () => {
  it('answers 414 to a request line over the limit', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { limits: { requestLine: 1024, headers: 32 * 1024 } }));
    const got = await raw(app.address('svc').port, `GET /${'a'.repeat(2000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(got.status, 414);
    // also when the line has not even ended yet
    const partial = await raw(app.address('svc').port, `GET /${'a'.repeat(2000)}`);
    assert.equal(partial.status, 414);
    assert.equal(m.accepted, 0);
  });

  it('answers 431 to a head over the limit', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { limits: { requestLine: 1024, headers: 4096 } }));
    const fields = Array.from({ length: 100 }, (_, i) => `X-Field-${i}: ${'v'.repeat(40)}\r\n`).join('');
    const got = await raw(app.address('svc').port, `GET / HTTP/1.1\r\nHost: x\r\n${fields}\r\n`);
    assert.equal(got.status, 431);
    assert.equal(m.accepted, 0);
    // just under the limit is served
    const few = fields.split('\r\n').slice(0, 40).join('\r\n');
    const ok = await raw(app.address('svc').port, `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${few}\r\n\r\n`);
    assert.equal(ok.status, 200);
  });
});

describe('slow and vanishing clients', () => {
  it('answers 408 to a head that does not arrive within the headers timeout, however it trickles', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), quick));
    const socket = net.connect({ port: app.address('svc').port, host: '127.0.0.1' });
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    // one byte at a time, each well within the timeout: only a deadline from the first byte stops it
    const trickle = setInterval(() => socket.writable && socket.write('a'), 20);
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    await once(socket, 'end');
    clearInterval(trickle);
    socket.destroy();
    assert.match(text, /^HTTP\/1.1 408 Request Timeout\r\n/);
    assert.match(bodyOf(text), /did not arrive within 300 ms/);
    assert.equal(m.accepted, 0);
  });

  it('closes a connection that sends nothing, and an idle keep-alive one', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), quick));
    const silent = await raw(app.address('svc').port, []);
    assert.deepEqual([silent.text, silent.ending], ['', 'end']);
    const c = await connection(app.address('svc').port);
    await c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(c.socket, 'end');
    await c.close();
    await app.runtime.connections.drained();
  });

  it('answers 408 when a request body stops arriving', async () => {
    const m = await startMember('a', (req) => req.resume(), { stream: true });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), quick, { timeouts: { connect: 2_000, idle: 200 } }));
    const got = await raw(app.address('svc').port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly some');
    assert.equal(got.status, 408);
    assert.equal(app.runtime.member('p', `127.0.0.1:${m.port}`)!.active, 0);
  });

  it('frees the member connection when the client goes away in the middle of a body', async () => {
    let memberSawClose = (): void => {};
    const sawClose = new Promise<void>((resolve) => (memberSawClose = resolve));
    let received = 0;
    const m = await startMember('a', (req) => {
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('error', () => {});
      req.socket.on('close', () => memberSawClose());
    }, { stream: true });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, id: 'a' }])));
    const socket = net.connect({ port: app.address('svc').port, host: '127.0.0.1' });
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n${'x'.repeat(100_000)}`);
    while (received < 100_000) await new Promise((r) => setImmediate(r));
    socket.destroy();
    await sawClose;
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 'a')!.active, 0);
    assert.equal((app.listener('svc') as import('../../../src/proxy/http/http-listener.ts').HttpListener).memberConnections.idle, 0);
  });

  it('frees the member connection when the client goes away while waiting for the response', async () => {
    let memberSawClose = (): void => {};
    const sawClose = new Promise<void>((resolve) => (memberSawClose = resolve));
    const m = await startMember('a', (req) => {
      req.socket.on('close', () => memberSawClose());
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, id: 'a' }])));
    const c = await connection(app.address('svc').port);
    c.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    while (m.requests.length === 0) await new Promise((r) => setImmediate(r));
    assert.equal(app.runtime.member('p', 'a')!.active, 1);
    c.socket.destroy();
    await sawClose;
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 'a')!.active, 0);
  });

  it('leaves the queue when the client goes away while waiting there', async () => {
    const m = await startMember('a', () => {});
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, id: 'a', maxConnections: 1 }])));
    const first = await connection(app.address('svc').port);
    first.socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    while (m.requests.length === 0) await new Promise((r) => setImmediate(r));
    const second = await connection(app.address('svc').port);
    second.socket.write('GET /queued HTTP/1.1\r\nHost: x\r\n\r\n');
    const p = app.runtime.pools.get('p')!;
    while (p.queued === 0) await new Promise((r) => setImmediate(r));
    second.socket.destroy();
    await app.runtime.connections.atMost(1);
    assert.equal(p.queued, 0);
    first.socket.destroy();
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 'a')!.active, 0);
  });
});

// (Requests built to be read two ways, request smuggling, are in smuggling.test.ts.)
// Oversized request lines and heads get 414 and 431; a client that sends its
// head slowly gets 408 when the headers timeout passes, however it trickles; a client that
// goes away mid-request frees its member connection and its place in the connection table.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import type { HttpServiceConfig } from '../../../src/config/http-types.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { bodyOf, connection, httpConfig, raw, startMember } from './helpers.ts';

const quick: Partial<HttpServiceConfig> = { timeouts: { headers: 300, response: 60_000, keepAlive: 300, request: 0, body: 60_000, minBodyRate: 500 } };

describeOnEachEngine('limits', () => {
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

describeOnEachEngine('line ends and half-closes', () => {
  it('answers 400 at once to a head with bare LF line ends, though it never ends in CRLFCRLF', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), quick));
    for (const head of ['GET / HTTP/1.1\nHost: x\n\n', 'GET / HTTP/1.1\r\nHost: x\n', 'GET / HTTP/1.1\r\nHost: x\rY', '\n']) {
      const got = await raw(app.address('svc').port, head);
      assert.equal(got.status, 400, JSON.stringify(head));
      assert.match(bodyOf(got.text), /bare LF or CR/);
    }
    // a CR that is the last byte so far waits for its LF: the head goes on and is served
    const ok = await raw(app.address('svc').port, ['GET / HTTP/1.1\r', '\nHost: x\r\nConnection: close\r\n\r\n']);
    assert.equal(ok.status, 200);
    assert.equal(m.requests.length, 1);
  });

  it('answers a client that half-closes right after its request, then closes', async () => {
    const m = await startMember('a', (req, res, body) => {
      // answered only once the client's FIN has surely reached furiwake
      setImmediate(() => res.end(`got ${req.method} ${req.url} ${body.length}`));
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const port = app.address('svc').port;
    const got = await raw(port, 'GET /half HTTP/1.1\r\nHost: x\r\n\r\n', { halfClose: true });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.ending, 'end');
    assert.match(got.text, /\r\nconnection: close\r\n/);
    assert.equal(bodyOf(got.text), 'got GET /half 0');
    const posted = await raw(port, 'POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello', { halfClose: true });
    assert.equal(bodyOf(posted.text), 'got POST /up 5');
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', `127.0.0.1:${m.port}`)!.active, 0);
  });
});

describeOnEachEngine('slow and vanishing clients', () => {
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

  it('frees the member connection when the client goes away (resets) while waiting for the response', async () => {
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
    // a FIN alone is a half-close, which still gets its answer (see below): gone is a reset
    c.socket.resetAndDestroy();
    await sawClose;
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 'a')!.active, 0);
  });

  it('leaves the queue when the client goes away (resets) while waiting there', async () => {
    const m = await startMember('a', () => {});
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, id: 'a', maxConnections: 1 }])));
    const first = await connection(app.address('svc').port);
    first.socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    while (m.requests.length === 0) await new Promise((r) => setImmediate(r));
    const second = await connection(app.address('svc').port);
    second.socket.write('GET /queued HTTP/1.1\r\nHost: x\r\n\r\n');
    const p = app.runtime.pools.get('p')!;
    while (p.queued === 0) await new Promise((r) => setImmediate(r));
    second.socket.resetAndDestroy();
    await app.runtime.connections.atMost(1);
    assert.equal(p.queued, 0);
    first.socket.resetAndDestroy();
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 'a')!.active, 0);
  });
});

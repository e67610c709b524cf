// The http data plane doing its ordinary work: requests and responses through, headers as a
// reverse proxy should leave them, keep-alive on both sides, chunked bodies both ways, HTTP/1.0
// clients, HEAD, pipelining, 100-continue, the connection table and the access log.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { after, it } from 'node:test';
import { Agent, request } from 'undici';
import { Furiwake } from '../../../src/app.ts';
import { createLogger } from '../../../src/log.ts';
import type { HttpListener } from '../../../src/proxy/http/http-listener.ts';
import { logSink, startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { bodyOf, connection, headerOf, httpConfig, raw, startMember } from './helpers.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';

const agent = new Agent({ keepAliveTimeout: 10_000, connections: 1 });
after(() => agent.close());

describeOnEachEngine('http service', () => {
  it('passes requests and responses through, with forwarded headers and without hop-by-hop ones', async () => {
    const m = await startMember('a', (req, res, body) => {
      res.setHeader('x-member', 'a');
      res.setHeader('keep-alive', 'timeout=5');
      res.end(`${req.method} ${req.url} ${body.toString()}`);
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const port = app.address('svc').port;
    const c = await connection(port);
    const got = await c.send(`POST /path?q=1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 5\r\nX-Custom: kept\r\nX-Hop: dropped\r\n` +
      'Connection: keep-alive, X-Hop\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nKeep-Alive: timeout=9\r\nX-Forwarded-For: 203.0.113.9\r\n\r\nhello');
    await c.close();
    assert.match(got, /^HTTP\/1.1 200 OK\r\n/);
    assert.equal(bodyOf(got), 'POST /path?q=1 hello');
    assert.equal(headerOf(got, 'x-member'), 'a');
    assert.equal(headerOf(got, 'keep-alive'), undefined);
    assert.equal(headerOf(got, 'connection'), undefined);
    const seen = m.requests[0];
    assert.equal(seen.headers['x-custom'], 'kept');
    assert.equal(seen.headers['x-hop'], undefined);
    assert.equal(seen.headers['proxy-connection'], undefined);
    assert.equal(seen.headers.te, undefined);
    assert.equal(seen.headers['keep-alive'], undefined);
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], `127.0.0.1:${port}`);
    assert.equal(seen.headers.host, `127.0.0.1:${port}`);
  });

  it('adds Forwarded instead when configured, and nothing with none', async () => {
    const m = await startMember('a');
    const fwd = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { forwarded: 'forwarded' }));
    await (await request(`http://127.0.0.1:${fwd.address('svc').port}/`, { dispatcher: agent })).body.text();
    assert.equal(m.requests[0].headers.forwarded, `for=127.0.0.1;proto=http;host="127.0.0.1:${fwd.address('svc').port}"`);
    assert.equal(m.requests[0].headers['x-forwarded-for'], undefined);
    const none = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { forwarded: 'none' }));
    await (await request(`http://127.0.0.1:${none.address('svc').port}/`, { dispatcher: agent, headers: { 'x-forwarded-for': '10.9.9.9' } })).body.text();
    assert.equal(m.requests[1].headers['x-forwarded-for'], '10.9.9.9');
    assert.equal(m.requests[1].headers.forwarded, undefined);
  });

  it('keeps connections alive on both sides: one client connection, one member connection', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const c = await connection(app.address('svc').port);
    for (let i = 0; i < 20; i++) {
      const got = await c.send(`GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(bodyOf(got), `a GET /${i}`);
    }
    await c.close();
    // new clients, one after the other, reuse the member connection the first one left idle
    for (let i = 0; i < 5; i++) {
      const d = await connection(app.address('svc').port);
      await d.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await d.close();
    }
    assert.equal(m.accepted, 1);
    assert.equal(m.requests.length, 25);
    assert.equal(new Set(m.requests.map((r) => r.peer)).size, 1);
    const listener = app.listener('svc') as HttpListener;
    assert.equal(listener.memberConnections.opened, 1);
    assert.equal(listener.memberConnections.idle, 1);
  });

  it('spreads requests of one client connection over the members, each member connection kept', async () => {
    const a = await startMember('a');
    const b = await startMember('b');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: a.port }, { port: b.port }])));
    const c = await connection(app.address('svc').port);
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(bodyOf(await c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n')));
    await c.close();
    assert.deepEqual(answers, Array.from({ length: 10 }, (_, i) => `${i % 2 === 0 ? 'a' : 'b'} GET /`));
    assert.equal(a.accepted, 1);
    assert.equal(b.accepted, 1);
  });

  it('does not keep member connections when max-idle is 0', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { memberKeepAlive: { maxIdle: 0, idleTimeout: 1_000 } }));
    const c = await connection(app.address('svc').port);
    for (let i = 0; i < 3; i++) await c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.close();
    assert.equal(m.accepted, 3);
    assert.equal(m.requests[0].headers.connection, 'close');
  });

  it('keeps at most max-idle member connections, each for idle-timeout', async () => {
    let release = (): void => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let closed = 0;
    let allClosed = (): void => {};
    const gone = new Promise<void>((resolve) => (allClosed = resolve));
    const m = await startMember('a', (req, res) => {
      if (req.url === '/hold') void held.then(() => res.end('held'));
      else res.end('quick');
    });
    m.server.on('connection', (socket) => socket.on('close', () => ++closed === 3 && allClosed()));
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { memberKeepAlive: { maxIdle: 1, idleTimeout: 300 } }));
    const listener = app.listener('svc') as HttpListener;
    // three requests at once need three member connections; afterwards only one is kept
    const clients = await Promise.all([0, 1, 2].map(() => connection(app.address('svc').port)));
    const answers = clients.map((c) => c.send('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n'));
    while (m.requests.length < 3) await new Promise((r) => setImmediate(r));
    release();
    for (const a of answers) assert.equal(bodyOf(await a), 'held');
    assert.equal(m.accepted, 3);
    assert.equal(listener.memberConnections.idle, 1);
    // the descriptor budget counts what is kept idle (one descriptor each)
    assert.equal(app.runtime.resources.idleMemberConnections, 1);
    // the kept one is closed by furiwake once idle-timeout has passed
    await gone;
    assert.equal(listener.memberConnections.idle, 0);
    assert.equal(app.runtime.resources.idleMemberConnections, 0);
    assert.equal(bodyOf(await clients[0].send('GET /again HTTP/1.1\r\nHost: x\r\n\r\n')), 'quick');
    assert.equal(m.accepted, 4);
    for (const c of clients) await c.close();
  });

  it('streams chunked bodies both ways', async () => {
    const m = await startMember('a', (req, res, body) => {
      res.write(`got ${body.length}:`);
      res.write(body.subarray(0, 3));
      res.end('!');
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const port = app.address('svc').port;
    const got = await raw(port, 'POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    assert.equal(got.status, 200);
    assert.equal(headerOf(got.text, 'transfer-encoding'), 'chunked');
    assert.equal(bodyOf(got.text), '7\r\ngot 11:\r\n3\r\nhel\r\n1\r\n!\r\n0\r\n\r\n');
    assert.equal(m.requests[0].body.toString(), 'hello world');
    assert.equal(m.requests[0].headers['transfer-encoding'], 'chunked');
  });

  it('gives an HTTP/1.0 client the payload of a chunked response (without its trailers), then closes', async () => {
    const m = await startMember('a', (_req, res) => {
      res.write('part1 ');
      res.addTrailers({ 'x-sum': '11' });
      res.end('part2');
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const got = await raw(app.address('svc').port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    assert.equal(got.ending, 'end');
    assert.equal(headerOf(got.text, 'transfer-encoding'), undefined);
    assert.equal(headerOf(got.text, 'connection'), 'close');
    assert.equal(bodyOf(got.text), 'part1 part2');
    assert.doesNotMatch(got.text, /x-sum/i);
    assert.equal(m.requests[0].headers.host, `127.0.0.1:${m.port}`);
  });

  it('keeps an HTTP/1.0 keep-alive client when the length is known', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const c = await connection(app.address('svc').port);
    const first = await c.send('GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    assert.equal(headerOf(first, 'connection'), 'keep-alive');
    assert.equal(bodyOf(await c.send('GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')), 'a GET /2');
    await c.close();
  });

  it('answers HEAD with the headers only', async () => {
    const m = await startMember('a', (_req, res) => {
      res.setHeader('content-length', '1000');
      res.end();
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const c = await connection(app.address('svc').port);
    const got = await c.send('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.includes('\r\n\r\n'));
    assert.equal(headerOf(got, 'content-length'), '1000');
    assert.equal(bodyOf(got), '');
    // the connection is still in step: the next answer is whole
    assert.equal(bodyOf(await c.send('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.includes('\r\n\r\n'))), '');
    await c.close();
  });

  it('answers pipelined requests in order', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const c = await connection(app.address('svc').port);
    const both = await c.send('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.includes('a GET /2'));
    assert.ok(both.indexOf('a GET /1') < both.indexOf('a GET /2'), both);
    await c.close();
  });

  it('passes on 100 Continue, and the body after it', async () => {
    const m = await startMember('a', (_req, res, body) => res.end(`got ${body}`));
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const c = await connection(app.address('svc').port);
    const interim = await c.send('PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n', (t) => t.includes('\r\n\r\n'));
    assert.equal(interim, 'HTTP/1.1 100 Continue\r\n\r\n');
    const final = await c.send('hello');
    assert.match(final, /^HTTP\/1.1 200 /);
    assert.equal(bodyOf(final), 'got hello');
    assert.equal(m.requests[0].headers.expect, '100-continue');
    await c.close();
  });

  it('shows the request in progress and its member in the connection table', async () => {
    let release = (): void => {};
    let arrive = (): void => {};
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    const m = await startMember('slow', (_req, res) => {
      arrive();
      release = () => res.end('done');
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, id: 'slow' }])));
    const response = request(`http://127.0.0.1:${app.address('svc').port}/report?x=1`, { dispatcher: agent });
    await arrived;
    const [entry] = [...app.runtime.connections.list({ service: 'svc' })];
    assert.deepEqual(entry.request, { method: 'GET', path: '/report?x=1' });
    assert.equal(entry.member?.id, 'slow');
    assert.equal(entry.member?.active, 1);
    release();
    assert.equal(await (await response).body.text(), 'done');
    const [idle] = [...app.runtime.connections.list({ service: 'svc' })];
    assert.equal(idle.request, null);
    assert.equal(idle.member, null);
    assert.equal(app.runtime.member('p', 'slow')!.active, 0);
  });

  it('writes one access log line per request', async () => {
    const m = await startMember('a');
    const { sink, lines } = logSink();
    const config = httpConfig(pool('round-robin', [{ port: m.port, id: 'm1' }]));
    const app = await Furiwake.start(config, createLogger('info', sink));
    after(() => app.stop(0));
    const port = app.address('svc').port;
    await (await request(`http://127.0.0.1:${port}/logged?a=b`, { dispatcher: agent })).body.text();
    const line = lines.find((l) => l.msg === 'request')!;
    assert.equal(line.level, 30);
    assert.equal(line.client, '127.0.0.1');
    assert.equal(line.service, 'svc');
    assert.equal(line.member, 'm1');
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/logged?a=b');
    assert.equal(line.status, 200);
    assert.ok((line.bytes as number) > 0);
    for (const t of ['queue', 'connect', 'firstByte', 'total']) assert.equal(typeof line[t], 'number', t);

    // and none when the service turns it off
    const quiet = await Furiwake.start({ ...config, services: { q: { ...config.services.svc, http: { ...config.services.svc.http!, accessLog: false } } } }, createLogger('info', sink));
    after(() => quiet.stop(0));
    const before = lines.filter((l) => l.msg === 'request').length;
    await (await request(`http://127.0.0.1:${quiet.address('q').port}/`, { dispatcher: agent })).body.text();
    assert.equal(lines.filter((l) => l.msg === 'request').length, before);
  });

  it('works with node http clients and curl alike', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const port = app.address('svc').port;
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ port, host: '127.0.0.1', path: '/node' }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.equal(body, 'a GET /node');
    const { spawn } = await import('node:child_process');
    const curl = spawn('curl', ['-sS', '--http1.1', `http://127.0.0.1:${port}/curl`, `http://127.0.0.1:${port}/curl2`]);
    let out = '';
    curl.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const [code] = await once(curl, 'exit');
    assert.equal(code, 0);
    assert.equal(out, 'a GET /curla GET /curl2');
  });
});


// grpc monitor against real gRPC servers (@grpc/grpc-js serving grpc.health.v1.Health), cleartext
// and TLS: each serving status, an unknown service, what the server was asked; then peers that are
// not gRPC (HTTP/1.1, an h2 server answering 404 or text), nothing listening, and one that never
// answers. Last, through furiwake's health manager: NOT_SERVING takes the member down and SERVING
// brings it back.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type net from 'node:net';
import { after, describe, it } from 'node:test';
import type { GrpcMonitor } from '../../../src/config/health-types.ts';
import { Checker } from '../../../src/health/checker.ts';
import type { CheckResult } from '../../../src/health/monitor.ts';
import { createGrpcMonitor } from '../../../src/health/monitors/grpc.ts';
import { memberHealth, startApp } from '../../helpers/app.ts';
import { pool, single } from '../../helpers/config.ts';
import { freePort } from '../../helpers/ports.ts';
import { closeServer, listenOnLoopback } from '../../helpers/servers.ts';
import { caSigned, certDir, selfSigned } from '../../proxy/http/certs.ts';
import { COMMON, never, target } from '../helpers-basic.ts';
import { grpcHealthServer, SERVING_STATUS } from '../helpers-grpc.ts';

function grpcMonitor(fields: Partial<GrpcMonitor> = {}): GrpcMonitor {
  return { type: 'grpc', ...COMMON, service: '', authority: null, tls: null, ...fields };
}

function check(port: number, fields: Partial<GrpcMonitor> = {}, signal = never(), host?: string): Promise<CheckResult> {
  return createGrpcMonitor(grpcMonitor(fields)).run(target(port, host), signal);
}

const TLS_OFF = { sni: null, verify: false, ca: null, cert: null, key: null };

/** Listens on loopback; the server and its connections are closed after the file. */
async function listen(server: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => sockets.add(s));
  after(() => closeServer(server, sockets));
  return listenOnLoopback(server);
}

describe('grpc monitor against a gRPC server', { timeout: 30_000 }, () => {
  it('is up when the server is SERVING, asking about the whole server by default', async () => {
    const server = await grpcHealthServer({ '': SERVING_STATUS.SERVING });
    assert.deepEqual(await check(server.port), { up: true, reason: 'SERVING' });
    assert.deepEqual(server.asked, ['']);
  });

  it('asks about the configured service and names it in the reason', async () => {
    const server = await grpcHealthServer({ '': SERVING_STATUS.NOT_SERVING, 'shop.Cart': SERVING_STATUS.SERVING });
    assert.deepEqual(await check(server.port, { service: 'shop.Cart' }), { up: true, reason: 'SERVING (service "shop.Cart")' });
    assert.deepEqual(server.asked, ['shop.Cart']);
  });

  it('is down on NOT_SERVING, SERVICE_UNKNOWN and UNKNOWN, naming the status', async () => {
    const server = await grpcHealthServer({ a: SERVING_STATUS.NOT_SERVING, b: SERVING_STATUS.SERVICE_UNKNOWN, c: SERVING_STATUS.UNKNOWN });
    assert.deepEqual(await check(server.port, { service: 'a' }), { up: false, reason: 'NOT_SERVING (service "a")' });
    assert.deepEqual(await check(server.port, { service: 'b' }), { up: false, reason: 'SERVICE_UNKNOWN (service "b")' });
    assert.deepEqual(await check(server.port, { service: 'c' }), { up: false, reason: 'UNKNOWN (service "c")' });
  });

  it('is down with the gRPC status and message when the call fails (an unknown service)', async () => {
    const server = await grpcHealthServer({ '': SERVING_STATUS.SERVING });
    assert.deepEqual(await check(server.port, { service: 'nope' }), { up: false, reason: 'gRPC status 5 NOT_FOUND: unknown service' });
  });

  it('speaks TLS with ALPN h2: up without verification, up verified against the CA, down naming the certificate problem', async () => {
    const dir = certDir();
    const { ca, server: cert } = caSigned(dir, ['DNS:member.test', 'IP:127.0.0.1']);
    const server = await grpcHealthServer({ '': SERVING_STATUS.SERVING }, cert);
    assert.deepEqual(await check(server.port, { tls: TLS_OFF }), { up: true, reason: 'SERVING' });
    assert.deepEqual(await check(server.port, { tls: { ...TLS_OFF, verify: true, ca: ca.cert } }, never(), 'member.test'), { up: true, reason: 'SERVING' });
    const unverified = await check(server.port, { tls: { ...TLS_OFF, verify: true } }, never(), 'member.test');
    assert.equal(unverified.up, false);
    assert.match(unverified.reason, /^TLS: .*(certificate|issuer)/);
    // cleartext to a TLS server: no HTTP/2 there
    assert.deepEqual(await check(server.port), { up: false, reason: 'the stream ended without an answer (is it an HTTP/2 server?)' });
  });
});

describe('grpc monitor against peers that are not gRPC servers', { timeout: 30_000 }, () => {
  it('is down with "connection refused" where nothing listens', async () => {
    assert.deepEqual(await check(await freePort()), { up: false, reason: 'connection refused' });
  });

  it('is down against an HTTP/1.1 server, cleartext and over TLS', async () => {
    const plain = await listen(http.createServer((_req, res) => res.end('hello')));
    // it answers the HTTP/2 preface with a 400 and closes
    assert.deepEqual(await check(plain), { up: false, reason: 'HTTP/2 Protocol error (is it an HTTP/2 server?)' });
    const cert = selfSigned(certDir(), 'h1', ['member.test']);
    const secure = await listen(https.createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end('hello')));
    assert.deepEqual(await check(secure, { tls: TLS_OFF }), { up: false, reason: 'TLS: tlsv1 alert no application protocol (the server does not offer h2)' });
  });

  it('is down against an HTTP/2 server answering 404, or 200 with something else than gRPC', async () => {
    const answers: [number, string][] = [];
    const port = await listen(http2.createServer((req, res) => {
      const [status, type] = answers.shift()!;
      res.writeHead(status, { 'content-type': type });
      res.end('not here');
    }));
    answers.push([404, 'text/plain']);
    assert.deepEqual(await check(port), { up: false, reason: 'HTTP status 404, not a gRPC answer' });
    answers.push([200, 'text/html']);
    assert.deepEqual(await check(port), { up: false, reason: 'not a gRPC answer (content-type "text/html")' });
  });

  it('is down when a gRPC answer has no grpc-status, or a malformed message', async () => {
    const bodies: Buffer[] = [];
    const port = await listen(http2.createServer((_req, res) => {
      const body = bodies.shift()!;
      res.writeHead(200, { 'content-type': 'application/grpc' });
      if (body.length > 0) res.addTrailers({ 'grpc-status': '0' });
      res.end(body);
    }));
    bodies.push(Buffer.alloc(0));
    assert.deepEqual(await check(port), { up: false, reason: 'the answer ended without grpc-status' });
    bodies.push(Buffer.of(0, 0, 0, 0, 3, 0x08, 0x01));
    assert.deepEqual(await check(port), { up: false, reason: 'malformed health answer: response message cut short (2 of 3 bytes)' });
    bodies.push(Buffer.of(0, 0, 0, 0, 2, 0x08, 0x01));
    assert.deepEqual(await check(port), { up: true, reason: 'SERVING' });
  });

  it('is down naming the code when the server resets the stream, or sends GOAWAY before answering', async () => {
    const port = await listen(http2.createServer((req) => {
      const session = req.stream.session!;
      if (!goaway) return req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      // (what a server that is stopping does: GOAWAY, then the connection closes)
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, 0);
      setImmediate(() => session.destroy());
    }));
    let goaway = false;
    assert.deepEqual(await check(port), { up: false, reason: 'stream reset by the server (REFUSED_STREAM)' });
    goaway = true;
    assert.deepEqual(await check(port), { up: false, reason: 'the server closed the connection (GOAWAY) before an answer' });
  });

  it('fails with the timeout in the scheduler against a server that never answers', async () => {
    const server = http2.createServer();
    server.on('stream', () => {}); // takes the call, never answers
    const port = await listen(server);
    const config = grpcMonitor({ timeout: 50 });
    const checker = new Checker(config, target(port), createGrpcMonitor(config));
    const done = Promise.withResolvers<void>();
    checker.subscribe(() => done.resolve());
    checker.start();
    await done.promise;
    checker.close();
    assert.deepEqual([checker.view.up, checker.view.reason], [false, 'timeout after 50 ms']);
  });

  it('settles at once on abort against a server that never answers, and closes its connection', async () => {
    const streams: http2.ServerHttp2Stream[] = [];
    const server = http2.createServer();
    server.on('stream', (stream) => streams.push(stream));
    const sessions: http2.ServerHttp2Session[] = [];
    server.on('session', (s) => sessions.push(s));
    const port = await listen(server);
    const abort = new AbortController();
    const pending = check(port, {}, abort.signal);
    while (streams.length === 0) await once(server, 'stream');
    abort.abort();
    assert.deepEqual(await pending, { up: false, reason: 'aborted' });
    if (!sessions[0].closed) await once(sessions[0], 'close');
  });
});

describe('grpc monitor in the health manager', { timeout: 30_000 }, () => {
  it('takes a member down on NOT_SERVING and back up on SERVING, leaving the other member up', async () => {
    const a = await grpcHealthServer({ '': SERVING_STATUS.SERVING });
    const b = await grpcHealthServer({ '': SERVING_STATUS.SERVING });
    const monitor = grpcMonitor({ interval: 20, fastInterval: 10, timeout: 1000, rise: 2, fall: 2 });
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }], {}, {
      health: { require: { kind: 'all' }, monitors: [monitor], agent: null, initialState: 'checking' },
    })));
    await memberHealth(app, 'p', 'a', 'up');
    await memberHealth(app, 'p', 'b', 'up');
    b.statuses.set('', SERVING_STATUS.NOT_SERVING);
    const down = await memberHealth(app, 'p', 'b', 'down');
    assert.equal(app.runtime.member('p', 'a')!.health, 'up');
    assert.equal(down.healthReason, 'grpc: NOT_SERVING');
    b.statuses.set('', SERVING_STATUS.SERVING);
    await memberHealth(app, 'p', 'b', 'up');
  });
});

// The file descriptor budget and HTTP/2 clients of an HTTP/1.1 pool: one client connection may
// hold as many member connections as it has streams in flight, and the budget counts each as it
// is held. A stream that would need one more when the budget is spent is reset with
// REFUSED_STREAM, the HTTP/2 signal that it was not processed and may be sent again (the
// connection's other streams go on); a new client is refused at accept as before. A request routed
// to an HTTP/1.1 pool from an HTTP/1.1 client counted as its own descriptor (its service's pool
// speaks h2c) is counted the same way, and refused with a 503: HTTP/1.1 has no such signal.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type http from 'node:http';
import http2 from 'node:http2';
import { after, describe, it } from 'node:test';
import type { Furiwake } from '../../../src/app.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { until } from '../../helpers/wait.ts';
import { call, grpcClient } from './grpc-helpers.ts';
import { h2Connect, h2cService, h2Request } from './h2-helpers.ts';
import { startH2Member } from './h2-members-helpers.ts';
import { connection, raw, startMember, type HttpMember } from './helpers.ts';

/** How a stream ended, as the client saw it: the response's status (0: none) and the RST_STREAM code (0: NO_ERROR, or none). */
function outcome(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; rstCode: number }> {
  const req = session.request({ ':path': path }, { endStream: true });
  let status = 0;
  req.on('response', (h) => (status = Number(h[':status'])));
  req.on('error', () => {}); // a reset: rstCode says which
  req.resume();
  return new Promise((resolve) => req.on('close', () => resolve({ status, rstCode: req.rstCode ?? 0 })));
}

describe('an HTTP/2 client with many streams to an HTTP/1.1 pool', () => {
  it('has each member connection its streams hold counted: past the budget a stream is refused (REFUSED_STREAM) and a new client too', async () => {
    // the member holds every response until told
    const held: http.ServerResponse[] = [];
    const member = await startMember('m', (_req, res) => held.push(res));
    const { app, port } = await h2cService(pool('round-robin', [{ port: member.port, id: 'm' }]));
    const resources = app.runtime.resources;
    // room for 3 proxied connections: 6 descriptors. The client takes one, each member connection one more.
    resources.maxConnections = 3;
    const session = h2Connect(port, false);
    after(() => session.close());
    const answers: Promise<{ status: number; rstCode: number }>[] = [];
    let answered = 0;
    for (let i = 0; i < 8; i++) answers.push(outcome(session, `/s${i}`).finally(() => answered++));
    // every stream reached the member or was refused: five have a member connection each (1 + 5 = 6 descriptors), three were refused
    await until(() => held.length + answered === 8);
    assert.equal(held.length, 5);
    assert.equal(member.accepted, 5);
    assert.equal(resources.requestsOverBudget, 3);
    assert.equal(resources.clientOnlyConnections, 1);
    assert.equal(resources.clientOnlyMemberConnections, 5);
    // (before: the client counted two descriptors whatever its streams held, and all 8 reached the member)
    // reset before any response, with the code that says "not processed, send it again" (RFC 9113 8.7)
    const refused = await Promise.all(answers.slice(5));
    const REFUSED = { status: 0, rstCode: http2.constants.NGHTTP2_REFUSED_STREAM };
    assert.deepEqual(refused, [REFUSED, REFUSED, REFUSED]);
    assert.equal(session.closed || session.destroyed, false, 'the connection stays');
    // a new client finds no room either
    const newcomer = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.deepEqual([newcomer.status, newcomer.ending], [0, 'reset']);
    assert.equal(resources.overBudget, 1);
    // the held streams are answered; their connections are kept idle, counted as such
    for (const res of held.splice(0)) res.end('ok');
    const served = await Promise.all(answers.slice(0, 5));
    assert.deepEqual(served.map((r) => r.status), [200, 200, 200, 200, 200]);
    // a refused request sent again on the same connection once there is room is served
    const retried = h2Request(session, { ':path': '/s5' });
    await until(() => held.length === 1);
    held.splice(0)[0].end('ok');
    assert.equal((await retried).status, 200);
    assert.equal(resources.clientOnlyMemberConnections, 0);
    assert.equal(resources.idleMemberConnections, 5);
    // a stream that finds a kept connection needs no new descriptor
    const again = h2Request(session, { ':path': '/again' });
    await until(() => held.length === 1);
    assert.equal(resources.clientOnlyMemberConnections, 1);
    held[0].end('ok');
    assert.equal((await again).status, 200);
    assert.equal(member.accepted, 5);
    assert.equal(resources.requestsOverBudget, 3);
  });
});

describe('a gRPC call over the budget', () => {
  it('is refused (REFUSED_STREAM): grpc-js sends it again once by itself, then reports UNAVAILABLE', async () => {
    const member = await startMember('m'); // HTTP/1.1: never reached
    const { app, port } = await h2cService(pool('round-robin', [{ port: member.port, id: 'm' }]));
    const resources = app.runtime.resources;
    const client = grpcClient(port);
    await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (err) => (err === undefined || err === null ? resolve() : reject(err))));
    await until(() => resources.clientOnlyConnections === 1);
    resources.maxConnections = 0; // the channel's connection is in; no member connection fits
    const got = await call(client.Unary, client, 'x');
    assert.equal('code' in got && got.code, grpc.status.UNAVAILABLE);
    assert.equal(resources.requestsOverBudget, 2, 'the call and the client\'s own second try');
    assert.equal(member.accepted, 0);
  });
});

describe('an HTTP/2 request that already reached a member', () => {
  it('is answered 503 when its retry finds the budget spent: it may have been processed, so it is not refused as unprocessed', async () => {
    let resources: { maxConnections: number } | null = null;
    // a takes the request, then the budget is spent (set from here: the test runs in furiwake's process) and a closes without answering
    const a = await startMember('a', (_req, res) => {
      resources!.maxConnections = 0;
      res.socket!.destroy();
    });
    const b = await startMember('b');
    const { app, port } = await h2cService(pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }]));
    resources = app.runtime.resources;
    const session = h2Connect(port, false);
    after(() => session.close());
    const got = await outcome(session, '/once');
    assert.deepEqual(got, { status: 503, rstCode: 0 });
    assert.equal(a.requests.length, 1);
    assert.equal(b.requests.length, 0);
    assert.equal(app.runtime.resources.requestsOverBudget, 1);
  });
});

/**
 * A service whose pool speaks h2c to a member, with /files/ routed to an HTTP/1.1 pool whose
 * member holds every response (in `held`) until told.
 */
async function routed(): Promise<{ held: http.ServerResponse[]; files: HttpMember; app: Furiwake; resources: Furiwake['runtime']['resources'] }> {
  const held: http.ServerResponse[] = [];
  const files = await startMember('files', (_req, res) => held.push(res));
  const web = await startH2Member('web');
  const app = await startApp(parseConfig(`global: { log-level: silent, workers: 1 }
services:
  www: { listen: 127.0.0.1:0, mode: http, pool: web, routes: [ { name: files, match: { path-prefix: /files/ }, pool: files } ] }
pools:
  web: { member-protocol: h2c, members: [ { address: 127.0.0.1:${web.port} } ] }
  files: { members: [ { address: 127.0.0.1:${files.port} } ] }
`, 'route.yaml', {}));
  return { held, files, app, resources: app.runtime.resources };
}

describe('a client of a service whose pool speaks h2c, routed to an HTTP/1.1 pool', () => {
  it('counts its own descriptor, and the member connection its request holds while it holds it', async () => {
    const { held, app, resources } = await routed();
    const client = await connection(app.address('www').port);
    after(() => client.close());
    const answer = client.send('GET /files/a HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => held.length === 1);
    assert.equal(resources.clientOnlyConnections, 1);
    // (before: nothing counted it, the client being counted as its own descriptor alone)
    assert.equal(resources.clientOnlyMemberConnections, 1);
    held[0].end('ok');
    assert.match(await answer, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(resources.clientOnlyMemberConnections, 0);
    assert.equal(resources.idleMemberConnections, 1);
  });

  it('past the budget, its request gets 503 with Retry-After: HTTP/1.1 cannot say "not processed"', async () => {
    const { held, files, app, resources } = await routed();
    const port = app.address('www').port;
    const [a, b] = [await connection(port), await connection(port)];
    after(() => Promise.all([a.close(), b.close()]));
    await until(() => resources.clientOnlyConnections === 2);
    const first = a.send('GET /files/a HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => held.length === 1);
    // room for one proxied connection: two descriptors, and the clients and a's member connection hold three
    resources.maxConnections = 1;
    const refused = await b.send('GET /files/b HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(refused, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(refused, /\r\nRetry-After: 1\r\n/i);
    assert.equal(resources.requestsOverBudget, 1);
    assert.equal(files.accepted, 1);
    held[0].end('ok');
    assert.match(await first, /^HTTP\/1\.1 200 OK\r\n/);
  });
});

// The file descriptor budget and HTTP/2 clients of an HTTP/1.1 pool: one client connection may
// hold as many member connections as it has streams in flight, and the budget counts each as it
// is held. A request that would need one more when the budget is spent gets a 503 (the
// connection's other streams go on); a new client is refused at accept as before. So is a
// request routed to an HTTP/1.1 pool from an HTTP/1.1 client counted as its own descriptor (its
// service's pool speaks h2c).

import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { until } from '../../helpers/wait.ts';
import { h2Connect, h2cService, h2Request, type H2Response } from './h2-helpers.ts';
import { startH2Member } from './h2-members-helpers.ts';
import { connection, raw, startMember } from './helpers.ts';

describe('an HTTP/2 client with many streams to an HTTP/1.1 pool', () => {
  it('has each member connection its streams hold counted: past the budget a stream gets 503 and a new client is refused', async () => {
    // the member holds every response until told
    const held: http.ServerResponse[] = [];
    const member = await startMember('m', (_req, res) => held.push(res));
    const { app, port } = await h2cService(pool('round-robin', [{ port: member.port, id: 'm' }]));
    const resources = app.runtime.resources;
    // room for 3 proxied connections: 6 descriptors. The client takes one, each member connection one more.
    resources.maxConnections = 3;
    const session = h2Connect(port, false);
    after(() => session.close());
    const answers: Promise<H2Response>[] = [];
    let answered = 0;
    for (let i = 0; i < 8; i++) answers.push(h2Request(session, { ':path': `/s${i}` }).finally(() => answered++));
    // every stream reached the member or was answered: five have a member connection each (1 + 5 = 6 descriptors), three were refused
    await until(() => held.length + answered === 8);
    assert.equal(held.length, 5);
    assert.equal(member.accepted, 5);
    assert.equal(resources.requestsOverBudget, 3);
    assert.equal(resources.clientOnlyConnections, 1);
    assert.equal(resources.clientOnlyMemberConnections, 5);
    // (before: the client counted two descriptors whatever its streams held, and all 8 reached the member)
    const refused = await Promise.all(answers.slice(5));
    assert.deepEqual(refused.map((r) => [r.status, r.headers['retry-after']]), [[503, '1'], [503, '1'], [503, '1']]);
    // a new client finds no room either
    const newcomer = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.deepEqual([newcomer.status, newcomer.ending], [0, 'reset']);
    assert.equal(resources.overBudget, 1);
    // the held streams are answered; their connections are kept idle, counted as such
    for (const res of held.splice(0)) res.end('ok');
    const served = await Promise.all(answers.slice(0, 5));
    assert.deepEqual(served.map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.equal(resources.clientOnlyMemberConnections, 0);
    assert.equal(resources.idleMemberConnections, 5);
    // a stream that finds a kept connection needs no new descriptor
    const again = h2Request(session, { ':path': '/again' });
    await until(() => held.length === 1);
    assert.equal(resources.clientOnlyMemberConnections, 1);
    held[0].end('ok');
    assert.equal((await again).status, 200);
    assert.equal(member.accepted, 5);
  });
});

describe('a client of a service whose pool speaks h2c, routed to an HTTP/1.1 pool', () => {
  it('counts its own descriptor, and the member connection its request holds while it holds it', async () => {
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
    const resources = app.runtime.resources;
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
});

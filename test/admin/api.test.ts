// The admin API's contract, route by route: answers match the published schemas, writes change
// the data plane (checked on the wire), and bad input, a missing or wrong token, a foreign Host
// or Origin are refused with a clear message and change nothing.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { z } from 'zod';
import { AdminPlane } from '../../src/admin/plane.ts';
import { connectionPageSchema, memberSchema, poolSchema, serviceSchema, statusSchema, stickPageSchema, stickTableSchema } from '../../src/admin/schemas.ts';
import { Furiwake } from '../../src/app.ts';
import { ConfigError } from '../../src/config/issues.ts';
import { createLogger } from '../../src/log.ts';
import type { Config } from '../../src/config/types.ts';
import { parseTemplate } from '../../src/config/log-fields.ts';
import type { LogsConfig } from '../../src/config/logs-types.ts';
import { join } from 'node:path';
import { tempDir } from '../helpers/files.ts';
import { greeted, greeting, udpClient } from '../helpers/clients.ts';
import { completeResponse, connection, httpConfig, startMember } from '../proxy/http/helpers.ts';
import { h2Connect, h2Request } from '../proxy/http/h2-helpers.ts';
import { startH2Member } from '../proxy/http/h2-members-helpers.ts';
import { until } from '../helpers/wait.ts';
import { pool, single } from '../helpers/config.ts';
import { freePort } from '../helpers/ports.ts';
import { startTcpServer, startUdpServer } from '../helpers/servers.ts';
import { adminConfig, baseOf, call, openEvents, rawRequest, startAdminApp, TestStickTable, TOKEN } from './helpers.ts';


/** Two members a and b behind service svc (pool p), round-robin. */
async function twoMembers(admin = {}, options = {}) {
  const a = await startTcpServer('a');
  const b = await startTcpServer('b');
  const config = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }]));
  const started = await startAdminApp(config, admin, options);
  return { ...started, a, b, port: started.app.address('svc').port, config };
}

describe('admin API: reads', () => {
  it('GET /api/v1/status: version, what needs the token, counts', async () => {
    const { base } = await twoMembers();
    const { status, body, headers } = await call(base, '/api/v1/status', { token: null });
    assert.equal(status, 200);
    statusSchema.parse(body);
    assert.deepEqual(body.auth, { reads: 'open', writes: 'token' });
    assert.deepEqual(body.members, { total: 2, usable: 2, down: 0 });
    assert.equal(body.reload, false);
    assert.equal(headers.get('cache-control'), 'no-store');
    assert.equal(headers.get('access-control-allow-origin'), null);
  });

  it('GET /api/v1/services and /services/{service}: the bound VIP; 404 names the services', async () => {
    const { base, port, b } = await twoMembers();
    const list = await call(base, '/api/v1/services');
    assert.equal(list.status, 200);
    z.array(serviceSchema).parse(list.body);
    assert.equal(list.body.length, 1);
    const one = await call(base, '/api/v1/services/svc');
    assert.deepEqual(one.body.address, { address: '127.0.0.1', port });
    assert.equal(one.body.pool, 'p');
    assert.equal(one.body.mode, 'tcp');
    const live = await greeted(port);
    assert.equal(live.line, 'a');
    assert.deepEqual((await call(base, '/api/v1/services/svc')).body.connections, { active: 1, total: 1 });
    live.socket.destroy();
    await once(live.socket, 'close');
    assert.equal(b.accepted, 0);
    const missing = await call(base, '/api/v1/services/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'no service named "nope"; services are: svc');
  });

  it('GET /api/v1/pools, /pools/{pool}, /members, /members/{member}: counters after real traffic', async () => {
    const { base, port } = await twoMembers();
    for (let i = 0; i < 4; i++) await greeting(port);
    const pools = await call(base, '/api/v1/pools');
    z.array(poolSchema).parse(pools.body);
    const p = (await call(base, '/api/v1/pools/p')).body;
    poolSchema.parse(p);
    assert.deepEqual(p.services, ['svc']);
    assert.equal(p.usable, 2);
    assert.deepEqual(p.members.map((m: { id: string }) => m.id), ['a', 'b']);
    const members = await call(base, '/api/v1/pools/p/members');
    assert.equal(members.body.length, 2);
    const a = (await call(base, '/api/v1/pools/p/members/a')).body;
    memberSchema.parse(a);
    assert.equal(a.status, 'up');
    assert.deepEqual(a.connections, { active: 0, total: 2, failed: 0 });
    assert.equal(a.bytes.out, 4, 'two greetings of "a\\n" came back through furiwake');
    assert.equal(a.share, 0.5);
    assert.equal(a.history, undefined);
    const withHistory = (await call(base, '/api/v1/pools/p/members/a?history=1')).body;
    assert.equal(withHistory.history.length, 60);
  });

  it('answers 404 for an unknown pool or member with the names there are, and 400 for a bad query', async () => {
    const { base } = await twoMembers();
    const pool = await call(base, '/api/v1/pools/web');
    assert.equal(pool.status, 404);
    assert.equal(pool.body.error, 'no pool named "web"; pools are: p');
    const member = await call(base, '/api/v1/pools/p/members/c');
    assert.equal(member.status, 404);
    assert.equal(member.body.error, 'pool p has no member "c"; its members are: a, b');
    const query = await call(base, '/api/v1/pools?history=yes');
    assert.equal(query.status, 400);
    assert.equal(query.body.error, 'invalid query: history: expected 0 or 1');
    const unknown = await call(base, '/api/v1/status?verbose=1');
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error, /unknown key "verbose"/);
  });

  it('GET /api/v1/connections: client -> VIP => balancer -> member, filtered and paged', async () => {
    const { base, port, a, b } = await twoMembers();
    const first = await greeted(port);
    const second = await greeted(port);
    const page = await call(base, '/api/v1/connections');
    assert.equal(page.status, 200);
    connectionPageSchema.parse(page.body);
    assert.equal(page.body.total, 2);
    const [c1] = page.body.items;
    assert.deepEqual(c1.client, { address: '127.0.0.1', port: first.socket.localPort });
    assert.deepEqual(c1.vip, { address: '127.0.0.1', port });
    assert.equal(c1.member.id, first.line);
    assert.equal(c1.protocol, 'tcp');
    assert.equal(c1.balancer.address, '127.0.0.1');
    const member = first.line === 'a' ? a : b;
    assert.ok(member.peers.includes(`127.0.0.1:${c1.balancer.port}`), 'the balancer port is the one the member saw');

    const only = async (q: string) => (await call(base, `/api/v1/connections${q}`)).body;
    assert.equal((await only('?service=svc')).total, 2);
    assert.equal((await only('?service=other')).total, 0);
    assert.equal((await only(`?pool=p&member=${second.line}`)).items[0].client.port, second.socket.localPort);
    assert.equal((await only('?pool=p&member=zz')).total, 0);
    const paged = await only('?limit=1&offset=1');
    assert.deepEqual([paged.total, paged.items.length, paged.items[0].client.port], [2, 1, second.socket.localPort]);

    for (const [q, message] of [
      ['?member=a', 'invalid query: member: member needs pool (member ids are unique within a pool)'],
      ['?limit=0', 'invalid query: limit: expected a whole number from 1 to 1000'],
      ['?offset=-1', 'invalid query: offset: expected a whole number, 0 or more'],
      ['?service=a%20b', 'invalid query: service: expected a service name'],
    ]) {
      const bad = await call(base, `/api/v1/connections${q}`);
      assert.deepEqual([bad.status, bad.body.error], [400, message], q);
    }
    for (const s of [first.socket, second.socket]) {
      s.destroy();
      await once(s, 'close');
    }
  });

  it('GET /api/v1/connections: a udp flow shows the local address it really uses, not 0.0.0.0', async () => {
    const echo = await startUdpServer('u');
    after(() => echo.close());
    const { app, base } = await startAdminApp(single('udp', pool('round-robin', [{ port: echo.port, id: 'u' }])));
    const client = await udpClient();
    after(() => client.close());
    assert.equal((await client.ask(app.address('svc').port, 'x')).text, 'u:x');
    const [flow] = (await call(base, '/api/v1/connections?service=svc')).body.items;
    assert.equal(flow.protocol, 'udp');
    assert.equal(flow.balancer.address, '127.0.0.1');
    assert.ok(echo.from.includes(`127.0.0.1:${flow.balancer.port}`), 'the balancer side is the address the member saw');
  });

  it('a udp member that answers with ICMP port unreachable shows it in connections.failed; the flow stays', async () => {
    const { app, base } = await startAdminApp(single('udp', pool('round-robin', [{ port: await freePort(), id: 'gone' }])));
    const client = dgram.createSocket('udp4');
    after(() => client.close());
    // the first datagram draws the ICMP refusal; a later one on the connected socket reports it
    for (let i = 0; i < 3; i++) client.send('x', app.address('svc').port, '127.0.0.1');
    await until(() => app.runtime.member('p', 'gone')!.failed > 0);
    const member = (await call(base, '/api/v1/pools/p/members/gone')).body;
    assert.ok(member.connections.failed > 0);
    assert.equal((await call(base, '/api/v1/connections?service=svc')).body.total, 1);
  });

  it('GET /api/v1/connections: an http connection shows the request in progress, its query string hidden unless asked with the token', async () => {
    let release = (): void => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const member = await startMember('h', (req, res) => void held.then(() => res.end(`done ${req.url}`)));
    const { app, base } = await startAdminApp(httpConfig(pool('round-robin', [{ port: member.port, id: 'h' }])));
    const target = '/login?user=alice&password=hunter2-secret';
    const answer = fetch(`http://127.0.0.1:${app.address('svc').port}${target}`).then((r) => r.text());
    while (member.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const page = await call(base, '/api/v1/connections?service=svc', { token: null });
    const [entry] = page.body.items;
    assert.deepEqual([entry.request, entry.member.id, entry.http, entry.memberProtocol], [{ method: 'GET', path: '/login?(redacted)' }, 'h', '1.1', null]);
    assert.equal(JSON.stringify(page.body).includes('hunter2'), false);
    const events = await openEvents(base);
    const snapshot = await events.next((e) => e.event === 'snapshot');
    events.close();
    assert.deepEqual(snapshot.data.connections.recent[0].request, { method: 'GET', path: '/login?(redacted)' });
    const noToken = await call(base, '/api/v1/connections?service=svc&show-query=true', { token: null });
    assert.deepEqual([noToken.status, noToken.body.error], [401, 'show-query=true needs the admin token: send Authorization: Bearer <admin.token>']);
    const shown = await call(base, '/api/v1/connections?service=svc&show-query=true');
    assert.deepEqual(shown.body.items[0].request, { method: 'GET', path: target });
    release();
    assert.equal(await answer, `done ${target}`);
  });

  it('GET /api/v1/connections: a request on an h2c member shows memberProtocol h2c, beside the client\'s HTTP version', async () => {
    let release = (): void => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived = (): void => {};
    let arrival = new Promise<void>((resolve) => (arrived = resolve));
    const member = await startH2Member('h', (stream) => {
      arrived();
      void held.then(() => {
        stream.respond({ ':status': 200 });
        stream.end('done');
      });
    });
    const config = httpConfig(pool('round-robin', [{ port: member.port, id: 'h' }], {}, { memberProtocol: 'h2c' }), { http2: { h2c: true, maxConcurrentStreams: 100, maxResetsPerSecond: 100 } });
    const { app, base } = await startAdminApp(config);
    const port = app.address('svc').port;
    const entries = async () => {
      const page = await call(base, '/api/v1/connections?service=svc');
      connectionPageSchema.parse(page.body);
      return page.body.items.map((c: { http: string; memberProtocol: string | null; member: { id: string } | null }) => [c.http, c.memberProtocol, c.member?.id ?? null]);
    };
    const one = fetch(`http://127.0.0.1:${port}/one`).then((r) => r.text());
    await arrival;
    assert.deepEqual(await entries(), [['1.1', 'h2c', 'h']]);
    arrival = new Promise<void>((resolve) => (arrived = resolve));
    const session = h2Connect(port, false);
    const two = h2Request(session, { ':method': 'GET', ':path': '/two' });
    await arrival;
    assert.deepEqual(await entries(), [['1.1', 'h2c', 'h'], ['2', 'h2c', 'h']]);
    release();
    assert.equal(await one, 'done');
    assert.equal((await two).status, 200);
    session.close();
  });

  it('GET /api/v1/services: an http service counts its client connections and its requests, each with a rate per second', async () => {
    const member = await startMember('h');
    const { app, base } = await startAdminApp(httpConfig(pool('round-robin', [{ port: member.port, id: 'h' }])));
    // three requests on one keep-alive client connection
    const client = await connection(app.address('svc').port);
    for (let i = 0; i < 3; i++) await client.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n', completeResponse);
    await client.close();
    const svc = (await call(base, '/api/v1/services/svc')).body;
    assert.deepEqual([svc.connections.total, svc.requests], [1, 3]);
    assert.equal((await call(base, '/api/v1/pools/p/members/h')).body.requests, 3);
    // the rates move with the once-a-second tick, whose snapshot the event stream carries
    const events = await openEvents(base);
    const ticked = await events.next((e) => e.event === 'snapshot' && e.data.services[0].rates.requests > 0);
    events.close();
    assert.ok(ticked.data.services[0].rates.connections > 0);
    assert.ok(ticked.data.pools[0].members[0].rates.requests > 0);
    // a tcp service has no requests to count
    const tcp = await startAdminApp(single('tcp', pool('round-robin', [{ port: member.port, id: 'h' }])));
    assert.equal((await call(tcp.base, '/api/v1/services/svc')).body.requests, null);
  });

  it('GET /api/v1/config: the running config with the token redacted', async () => {
    const { base } = await twoMembers();
    const { status, body } = await call(base, '/api/v1/config');
    assert.equal(status, 200);
    assert.equal(body.admin.token, '(redacted)');
    assert.equal(body.pools.p.members[0].id, 'a');
    assert.equal(JSON.stringify(body).includes(TOKEN), false);
  });

  it('serves the dashboard with a strict CSP, and 404 / 405 with Allow elsewhere', async () => {
    const { base } = await twoMembers();
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /default-src 'none'; script-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="\/dashboard\.js">/);
    // the page's modules, followed from dashboard.js through their imports: each one is served as JavaScript
    const modules = new Set(['/dashboard.js']);
    for (const path of modules) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8', path);
      for (const [, name] of (await res.text()).matchAll(/^import .* from '\.\/([a-z-]+\.js)';$/gm)) modules.add(`/${name}`);
    }
    assert.deepEqual([...modules].sort(), ['/auth.js', '/dashboard.js', '/dom.js', '/events.js', '/format.js', '/ha.js', '/model.js', '/renderers.js', '/stick.js']);
    const missing = await call(base, '/nothing');
    assert.equal(missing.status, 404);
    const wrong = await call(base, '/api/v1/pools', { method: 'DELETE' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET');
    const preflight = await call(base, '/api/v1/pools/p/members/a', { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'PATCH' } });
    assert.equal(preflight.status, 405);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  });
});

describe('admin API: member writes', () => {
  it('drain: no new connection reaches the member; live ones stay', async () => {
    const { app, base, port, a, b } = await twoMembers();
    const live = await greeted(port);
    assert.equal(live.line, 'a');
    const res = await call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', body: { state: 'drain' } });
    assert.equal(res.status, 200);
    memberSchema.parse(res.body);
    assert.deepEqual([res.body.admin, res.body.status, res.body.usable], ['drain', 'drain', false]);
    const before = a.accepted;
    const lines = [];
    for (let i = 0; i < 4; i++) lines.push(await greeting(port));
    assert.deepEqual(lines, ['b', 'b', 'b', 'b']);
    assert.equal(a.accepted, before);
    assert.equal(app.runtime.connections.size, 1, 'the live connection on the drained member stays');
    live.socket.destroy();
    await once(live.socket, 'close');
    const enabled = await call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', body: { state: 'enabled' } });
    assert.equal(enabled.body.status, 'up');
    const after = [await greeting(port), await greeting(port)].sort();
    assert.deepEqual(after, ['a', 'b']);
    assert.ok(b.accepted >= 5);
  });

  it('disable, weight and max-connections apply together', async () => {
    const { app, base } = await twoMembers();
    const res = await call(base, '/api/v1/pools/p/members/b', { method: 'PATCH', body: { state: 'disabled', weight: 5, maxConnections: 10 } });
    assert.equal(res.status, 200);
    const b = app.runtime.member('p', 'b')!;
    assert.deepEqual([b.admin, b.configWeight, b.weight, b.maxConnections], ['disabled', 5, 5, 10]);
    assert.deepEqual([res.body.status, res.body.weight, res.body.effectiveWeight, res.body.maxConnections], ['disabled', 5, 5, 10]);
  });

  it('refuses a write without the token, or with a wrong one, and changes nothing', async () => {
    const { app, base } = await twoMembers();
    const missing = await call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', body: { state: 'disabled' }, token: null });
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error, 'writes need the admin token: send Authorization: Bearer <admin.token>');
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="furiwake"');
    const wrong = await call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', body: { state: 'disabled' }, token: `${TOKEN}x` });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'the admin token is wrong');
    const notBearer = await call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', body: { state: 'disabled' }, token: null, headers: { authorization: `Basic ${TOKEN}` } });
    assert.equal(notBearer.status, 401);
    assert.equal(app.runtime.member('p', 'a')!.admin, 'enabled');
  });

  it('refuses invalid bodies with each problem named, and changes nothing', async () => {
    const { app, base } = await twoMembers();
    const patch = (options: Parameters<typeof call>[2]) => call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', ...options });
    const cases: [Parameters<typeof call>[2], number, string][] = [
      [{ body: { state: 'paused' } }, 400, 'invalid body: state: expected enabled, drain or disabled'],
      [{ body: { weight: 300 } }, 400, 'invalid body: weight: expected a whole number from 0 to 256'],
      [{ body: { weight: 1.5 } }, 400, 'invalid body: weight: expected a whole number from 0 to 256'],
      [{ body: { maxConnections: -1 } }, 400, 'invalid body: maxConnections: expected a whole number, 0 or more'],
      [{ body: { weight: 2, state: 'off' } }, 400, 'invalid body: state: expected enabled, drain or disabled'],
      [{ body: { weight: 2, colour: 'red' } }, 400, 'invalid body: unknown key "colour"'],
      [{ body: {} }, 400, 'invalid body: expected at least one of state, weight, maxConnections'],
      [{ body: [1] }, 400, 'invalid body: expected a JSON object with state, weight or maxConnections'],
      [{}, 400, 'invalid body: expected a JSON object with state, weight or maxConnections'],
      [{ raw: '{"state":', type: 'application/json' }, 400, 'the body is not valid JSON'],
      [{ raw: 'state=drain', type: 'application/x-www-form-urlencoded' }, 415, 'expected a JSON body (Content-Type: application/json), got application/x-www-form-urlencoded'],
      [{ raw: JSON.stringify({ state: 'drain', pad: 'x'.repeat(70_000) }), type: 'application/json' }, 413, 'the body is larger than 65536 bytes'],
    ];
    for (const [options, status, message] of cases) {
      const res = await patch(options);
      assert.equal(res.status, status, JSON.stringify(options).slice(0, 80));
      assert.ok(res.body.error.startsWith(message), `${res.body.error} should start with ${message}`);
    }
    const a = app.runtime.member('p', 'a')!;
    assert.deepEqual([a.admin, a.configWeight, a.maxConnections], ['enabled', 1, 0]);
    const unknown = await call(base, '/api/v1/pools/p/members/zz', { method: 'PATCH', body: { state: 'drain' } });
    assert.deepEqual([unknown.status, unknown.body.error], [404, 'pool p has no member "zz"; its members are: a, b']);
  });

  it('refuses writes from another origin (a page elsewhere in the browser)', async () => {
    const { app, base } = await twoMembers({ token: null });
    const foreign = await call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', body: { state: 'drain' }, token: null, headers: { origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error, 'writes from origin http://evil.example are refused: only pages of this server may write');
    const crossSite = await call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', body: { state: 'drain' }, token: null, headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(crossSite.status, 403);
    assert.equal(app.runtime.member('p', 'a')!.admin, 'enabled');
    // without a token configured, a same-origin page (the dashboard) or a tool may write
    const own = await call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', body: { state: 'drain' }, token: null, headers: { origin: base } });
    assert.equal(own.status, 200);
    assert.equal(app.runtime.member('p', 'a')!.admin, 'drain');
  });

  it('answers only to loopback Host names on a loopback listener (DNS rebinding)', async () => {
    const { base } = await twoMembers();
    const port = Number(new URL(base).port);
    const rebound = await rawRequest(port, { path: '/api/v1/status', headers: { host: `evil.example:${port}` } });
    assert.equal(rebound.status, 421);
    assert.match(rebound.text, /answers only to loopback names/);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      assert.equal((await rawRequest(port, { path: '/api/v1/status', headers: { host } })).status, 200, host);
    }
  });
});

describe('admin API: read-token-required', () => {
  it('guards every read, /metrics and the event stream too, but not the page', async () => {
    const { base } = await twoMembers({ readTokenRequired: true });
    for (const path of ['/api/v1/status', '/api/v1/pools', '/api/v1/connections', '/api/v1/config', '/api/v1/openapi.json', '/api/v1/events', '/metrics']) {
      const res = await call(base, path, { token: null });
      assert.equal(res.status, 401, path);
      assert.equal(res.body.error, 'reads need the admin token: send Authorization: Bearer <admin.token>');
    }
    const status = await call(base, '/api/v1/status');
    assert.deepEqual([status.status, status.body.auth], [200, { reads: 'token', writes: 'token' }]);
    assert.equal((await call(base, '/metrics')).status, 200);
    assert.equal((await fetch(`${base}/`)).status, 200);
  });
});

describe('admin API: reload', () => {
  it('POST /api/v1/reload reads the config again and lists what changed', async () => {
    let next: Config | null = null;
    const { app, base, config, a } = await twoMembers({}, { load: async () => next! });
    next = { ...config, admin: app.runtime.config!.admin, pools: { p: pool('round-robin', [{ port: a.port, id: 'a', weight: 4 }]) } };
    const res = await call(base, '/api/v1/reload', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { changes: ['pool p changed: member b removed, member a changed'], problems: [] });
    assert.deepEqual(app.runtime.pools.get('p')!.members.map((m) => [m.id, m.weight]), [['a', 4]]);
  });

  it('POST /api/v1/reload names a change to the logs section alone', async () => {
    let next: Config | null = null;
    const { app, base, config } = await twoMembers({}, { load: async () => next! });
    const dir = await tempDir('reload-logs');
    const template = parseTemplate('$client $status');
    assert.ok(template.ok);
    const json: LogsConfig = { access: { format: 'json', fields: ['client'], template: [], to: { kind: 'file', path: join(dir, 'a.log') } }, process: { to: { kind: 'stdout' } }, syslog: null };
    const line: LogsConfig = { ...json, access: { format: 'line', fields: [], template: template.parts, to: { kind: 'file', path: join(dir, 'b.log') } } };
    const reload = async (logs: LogsConfig) => {
      next = { ...config, admin: app.runtime.config!.admin, logs };
      return (await call(base, '/api/v1/reload', { method: 'POST' })).body;
    };
    assert.deepEqual(await reload(json), { changes: ['logs added'], problems: [] });
    assert.deepEqual(await reload(line), { changes: ['logs changed: access format, access destination'], problems: [] });
    assert.deepEqual(await reload({ ...line, process: { to: { kind: 'file', path: join(dir, 'p.log') } } }), { changes: ['logs changed: process destination'], problems: [] });
  });

  it('keeps the running config when the file is refused (422 with each problem)', async () => {
    const issue = { file: 'f.yaml', line: 3, path: 'pools.p.algorithm', message: 'expected round-robin or ..., got "fastest"' };
    const { app, base } = await twoMembers({}, { load: async () => { throw new ConfigError([issue]); } });
    const before = app.runtime.config;
    const res = await call(base, '/api/v1/reload', { method: 'POST' });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body, { error: 'the config file was refused; the running config stays', issues: [issue] });
    assert.equal(app.runtime.config, before);
  });

  it('answers 409 when there is no file to read, 401 without the token, 400 with a body', async () => {
    const { base } = await twoMembers();
    const none = await call(base, '/api/v1/reload', { method: 'POST' });
    assert.equal(none.status, 409);
    assert.match(none.body.error, /no config file to read again/);
    assert.equal((await call(base, '/api/v1/reload', { method: 'POST', token: null })).status, 401);
    const body = await call(base, '/api/v1/reload', { method: 'POST', body: { now: true } });
    assert.deepEqual([body.status, body.body.error], [400, 'POST /api/v1/reload takes no body']);
  });

  it('GET /api/v1/ha and POST /api/v1/ha/handover: 404 without an ha section, 400 for a bad body, 401 without the token', async () => {
    const { base } = await twoMembers();
    const status = await call(base, '/api/v1/ha');
    assert.equal(status.status, 404);
    assert.match(status.body.error, /not part of a pair/);
    assert.equal((await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: true } })).status, 404);
    const bad = await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: 'yes' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /on: expected true/);
    assert.equal((await call(base, '/api/v1/ha/handover', { method: 'POST', body: { on: true }, token: null })).status, 401);
  });

  it('re-binds the admin listener only when its address changes', async () => {
    const { app, config } = await twoMembers();
    const first = app.admin.address()!.port;
    assert.deepEqual(await app.reload({ ...config, admin: adminConfig({ token: `${TOKEN}-new` }) }), []);
    assert.equal(app.admin.address()!.port, first, 'same address: same socket');
    assert.equal((await call(baseOf(app), '/api/v1/pools/p/members/a', { method: 'PATCH', body: { weight: 2 } })).status, 401, 'the new token applies at once');
    const taken = await startTcpServer('taken');
    const problems = await app.reload({ ...config, admin: adminConfig({ listen: { host: '127.0.0.1', ip: '127.0.0.1', port: taken.port } }) });
    assert.match(problems[0], /^admin: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    assert.equal(app.admin.address()!.port, first, 'a failed move keeps the old listener');
    const free = await startTcpServer('free');
    const port = free.port;
    await free.close();
    assert.deepEqual(await app.reload({ ...config, admin: adminConfig({ listen: { host: '127.0.0.1', ip: '127.0.0.1', port } }) }), []);
    assert.equal(app.admin.address()!.port, port);
    await assert.rejects(fetch(`http://127.0.0.1:${first}/api/v1/status`), 'the old listener is closed');
    assert.equal((await call(baseOf(app), '/api/v1/status')).status, 200);
    assert.deepEqual(await app.reload(config), []);
    assert.equal(app.admin.address(), null, 'no admin section: no admin plane');
  });

  it('refuses a listener other hosts can reach without a token, even in a Config built in code', async () => {
    const a = await startTcpServer('a');
    const config = { ...single('tcp', pool('round-robin', [{ port: a.port }])), admin: adminConfig({ listen: { host: '0.0.0.0', ip: '0.0.0.0', port: 0 }, token: null }) };
    await assert.rejects(Furiwake.start(config, createLogger('silent')), /^Error: admin: 0\.0\.0\.0:0 is reachable from other hosts; it needs a token$/);
  });

  it('refuses to start when the admin address is taken, leaving nothing open', async () => {
    const taken = await startTcpServer('taken');
    const config = { ...single('tcp', pool('round-robin', [{ port: taken.port }])), admin: adminConfig({ listen: { host: '127.0.0.1', ip: '127.0.0.1', port: taken.port } }) };
    await assert.rejects(Furiwake.start(config, createLogger('silent')), /admin: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  });
});

describe('admin API: stick tables', () => {
  async function withTable() {
    const { app } = await twoMembers();
    const table = new TestStickTable([['10.0.0.0/24', 'a'], ['10.0.1.0/24', 'b'], ['192.168.1.7', 'a']]);
    const plane = new AdminPlane({
      runtime: app.runtime, log: app.log, health: app.health, load: null,
      reload: (c) => app.reload(c), listener: (n) => app.listener(n),
      stickTables: () => [{ service: 'svc', method: 'source-ip', pool: 'p', table }],
    });
    after(() => plane.close());
    assert.deepEqual(await plane.apply(adminConfig()), []);
    return { base: `http://127.0.0.1:${plane.address()!.port}`, table };
  }

  it('GET /api/v1/stick-tables and /stick-tables/{service}: counters, entries filtered by key and paged', async () => {
    const { base } = await withTable();
    const list = await call(base, '/api/v1/stick-tables');
    z.array(stickTableSchema).parse(list.body);
    assert.deepEqual(list.body, [{ service: 'svc', method: 'source-ip', kernel: false, size: 3, capacity: 100, timeout: 600_000, hits: 7, misses: 3, expirations: 2, evictions: 1 }]);
    const all = await call(base, '/api/v1/stick-tables/svc');
    stickPageSchema.parse(all.body);
    assert.equal(all.body.total, 3);
    assert.deepEqual(all.body.items[0], { key: '10.0.0.0/24', pool: 'p', member: 'a', expiresIn: 600_000 });
    const filtered = await call(base, '/api/v1/stick-tables/svc?key=10.0.');
    assert.deepEqual(filtered.body.items.map((e: { key: string }) => e.key), ['10.0.0.0/24', '10.0.1.0/24']);
    const paged = await call(base, '/api/v1/stick-tables/svc?offset=2&limit=5');
    assert.deepEqual([paged.body.total, paged.body.items.map((e: { key: string }) => e.key)], [3, ['192.168.1.7']]);
    const missing = await call(base, '/api/v1/stick-tables/other');
    assert.deepEqual([missing.status, missing.body.error], [404, 'no service named "other"; services with one: svc']);
    const long = await call(base, `/api/v1/stick-tables/svc?key=${'k'.repeat(1025)}`);
    assert.equal(long.status, 400);
  });

  it('DELETE one key, then all (asked with all=true); without the token nothing is deleted', async () => {
    const { base, table } = await withTable();
    const key = encodeURIComponent('10.0.0.0/24');
    assert.equal((await call(base, `/api/v1/stick-tables/svc/entries/${key}`, { method: 'DELETE', token: null })).status, 401);
    assert.equal(table.size, 3);
    const one = await call(base, `/api/v1/stick-tables/svc/entries/${key}`, { method: 'DELETE' });
    assert.deepEqual([one.status, one.body], [200, { deleted: 1 }]);
    const again = await call(base, `/api/v1/stick-tables/svc/entries/${key}`, { method: 'DELETE' });
    assert.deepEqual([again.status, again.body.error], [404, 'the stick table of svc has no key "10.0.0.0/24"']);
    const unsaid = await call(base, '/api/v1/stick-tables/svc/entries', { method: 'DELETE' });
    assert.deepEqual([unsaid.status, unsaid.body.error], [400, 'invalid query: all: forgetting every entry of the table needs all=true (one client: DELETE /api/v1/stick-tables/{service}/entries/{key})']);
    assert.equal(table.size, 2);
    const all = await call(base, '/api/v1/stick-tables/svc/entries?all=true', { method: 'DELETE' });
    assert.deepEqual([all.status, all.body], [200, { deleted: 2 }]);
    assert.equal(table.size, 0);
  });

  it("shows a real service's source-ip table, entry by entry, and forgets a client", async () => {
    const a = await startTcpServer('a');
    const b = await startTcpServer('b');
    const persistence = { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 60_000, maxEntries: 100 } as const;
    const { app, base } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }]), { persistence }));
    const port = app.address('svc').port;
    const from = async (address: string) => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress: address });
      const [line] = await once(socket.setEncoding('utf8'), 'data');
      socket.end();
      await once(socket, 'close');
      return String(line).trim();
    };
    const first = await from('127.0.0.2');
    const second = await from('127.0.0.3');
    assert.equal(await from('127.0.0.2'), first, 'the client sticks');
    assert.equal((await call(base, '/api/v1/services/svc')).body.persistence, 'source-ip');
    const [summary] = (await call(base, '/api/v1/stick-tables')).body;
    assert.deepEqual([summary.service, summary.method, summary.size, summary.capacity, summary.timeout, summary.hits], ['svc', 'source-ip', 2, 100, 60_000, 1]);
    const entries = (await call(base, '/api/v1/stick-tables/svc')).body.items;
    assert.deepEqual(entries.map((e: { key: string; member: string; pool: string }) => [e.key, e.pool, e.member]).sort(), [['127.0.0.2', 'p', first], ['127.0.0.3', 'p', second]]);
    assert.deepEqual((await call(base, '/api/v1/stick-tables/svc/entries/127.0.0.2', { method: 'DELETE' })).body, { deleted: 1 });
    assert.deepEqual((await call(base, '/api/v1/stick-tables/svc?key=127.0.0.2')).body.total, 0);
    assert.equal(app.runtime.services.get('svc')!.stickTable!.size, 1);
  });

  it('has none until a service keeps one', async () => {
    const { base } = await twoMembers();
    assert.deepEqual((await call(base, '/api/v1/stick-tables')).body, []);
    const none = await call(base, '/api/v1/stick-tables/svc');
    assert.deepEqual([none.status, none.body.error], [404, 'service svc has no stick table (its persistence is not source-ip or tls-session); services with one: (none)']);
  });
});

describe('admin API: events and OpenAPI', () => {
  it('GET /api/v1/events: a snapshot at once (with history), member changes as they happen, a snapshot each second', async () => {
    const { base, port } = await twoMembers();
    const events = await openEvents(base);
    after(() => events.close());
    const first = await events.next();
    assert.equal(first.event, 'snapshot');
    assert.deepEqual(first.data.pools[0].members.map((m: { id: string }) => m.id), ['a', 'b']);
    assert.equal(first.data.pools[0].members[0].history.length, 60);
    assert.equal(first.data.services[0].address.port, port);
    const live = await greeted(port);
    await call(base, '/api/v1/pools/p/members/b', { method: 'PATCH', body: { state: 'disabled' } });
    const change = await events.next((e) => e.event === 'member');
    assert.deepEqual(change.data.change, { kind: 'admin', from: 'enabled', to: 'disabled' });
    assert.deepEqual([change.data.member.id, change.data.member.status], ['b', 'disabled']);
    const next = await events.next((e) => e.event === 'snapshot');
    assert.equal(next.data.connections.total, 1);
    assert.equal(next.data.connections.recent[0].client.port, live.socket.localPort);
    assert.equal(next.data.pools[0].members[0].history, undefined);
    live.socket.destroy();
    await once(live.socket, 'close');
  });

  it('HEAD /api/v1/events: the headers of the stream, then the end (no stream is held open)', async () => {
    const { base } = await twoMembers();
    const { status, headers, text } = await rawRequest(Number(new URL(base).port), { method: 'HEAD', path: '/api/v1/events', agent: false });
    assert.deepEqual([status, headers['content-type'], text], [200, 'text/event-stream; charset=utf-8', '']);
  });

  it('GET /api/v1/openapi.json: every route, request schemas from the validating zod schemas, every $ref resolves', async () => {
    const { base } = await twoMembers();
    const { status, body } = await call(base, '/api/v1/openapi.json');
    assert.equal(status, 200);
    assert.equal(body.openapi, '3.1.0');
    const operations = Object.entries(body.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    assert.deepEqual(operations.sort(), [
      'DELETE /api/v1/connections',
      'DELETE /api/v1/connections/{id}',
      'DELETE /api/v1/stick-tables/{service}/entries',
      'DELETE /api/v1/stick-tables/{service}/entries/{key}',
      'GET /api/v1/config',
      'GET /api/v1/connections',
      'GET /api/v1/events',
      'GET /api/v1/ha',
      'GET /api/v1/openapi.json',
      'GET /api/v1/pools',
      'GET /api/v1/pools/{pool}',
      'GET /api/v1/pools/{pool}/members',
      'GET /api/v1/pools/{pool}/members/{member}',
      'GET /api/v1/rate-limits',
      'GET /api/v1/rate-limits/{service}',
      'GET /api/v1/services',
      'GET /api/v1/services/{service}',
      'GET /api/v1/status',
      'GET /api/v1/stick-tables',
      'GET /api/v1/stick-tables/{service}',
      'PATCH /api/v1/pools/{pool}/members/{member}',
      'POST /api/v1/ha/handover',
      'POST /api/v1/reload',
    ]);
    const patch = body.paths['/api/v1/pools/{pool}/members/{member}'].patch;
    assert.deepEqual(patch.security, [{ token: [] }]);
    assert.deepEqual(patch.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/MemberPatch' });
    assert.deepEqual(body.components.schemas.MemberPatch.properties.state.enum, ['enabled', 'drain', 'disabled']);
    assert.deepEqual(body.components.schemas.MemberPatch.properties.weight.maximum, 256);
    const limit = body.paths['/api/v1/connections'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    assert.deepEqual([limit.in, limit.schema.minimum, limit.schema.maximum, limit.schema.default], ['query', 1, 1000, 100]);
    const refs = JSON.stringify(body).match(/"\$ref":"[^"]+"/g) ?? [];
    assert.ok(refs.length > 10);
    for (const ref of refs) {
      const id = ref.slice(8, -1).replace('#/components/schemas/', '');
      assert.ok(id in body.components.schemas, `${ref} resolves`);
    }
  });
});

// Rate limits of http services end to end (counted, not timed): a client past its burst gets 429
// with Retry-After and its requests never reach the member; a client within it never does; two
// client addresses, header keys and a route's own limit are counted apart; an address mask puts a
// network in one bucket; with two worker threads the burst is the process's.

import assert from 'node:assert/strict';
import http from 'node:http';
import { it } from 'node:test';
import type { Furiwake } from '../../../src/app.ts';
import { parseConfig } from '../../../src/config/load.ts';
import type { Config } from '../../../src/config/types.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { h2cService, h2Connect, h2Request } from './h2-helpers.ts';
import { startMember, type HttpMember } from './helpers.ts';

function configOf(limit: string, memberPort: number, opts: { routes?: string; workers?: number } = {}): Config {
  return parseConfig(`global: { log-level: silent, workers: ${opts.workers ?? 1} }
services:
  www: { listen: 127.0.0.1:0, mode: http, pool: web, rate-limit: ${limit}${opts.routes === undefined ? '' : `, routes: ${opts.routes}`} }
pools:
  web: { members: [ { address: 127.0.0.1:${memberPort} } ] }
`, 'rate.yaml', {});
}

async function vip(limit: string, opts: { routes?: string; workers?: number } = {}): Promise<{ app: Furiwake; port: number; member: HttpMember }> {
  const member = await startMember('web');
  const app = await startApp(configOf(limit, member.port, opts));
  return { app, port: app.address('www').port, member };
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
}

/** One GET; `agent` false: on a connection of its own. */
function get(port: number, path = '/', opts: { headers?: Record<string, string>; from?: string; agent?: http.Agent | false } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: opts.headers, localAddress: opts.from, agent: opts.agent ?? false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
  });
}

async function statuses(n: number, ask: () => Promise<Answer>): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < n; i++) out.push(await ask());
  return out;
}

const passed = (answers: Answer[]) => answers.filter((a) => a.status === 200).length;

it('10 requests/s with a burst of 20: 40 back to back from one client pass 20 (and what refilled meanwhile), the rest get 429 with Retry-After', async () => {
  const { port, member } = await vip('{ requests: 10/s, burst: 20 }');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const started = Date.now();
  const answers = await statuses(40, () => get(port, '/', { agent }));
  const elapsed = Date.now() - started;
  agent.destroy();
  const ok = passed(answers);
  assert.ok(ok >= 20, `${ok} passed`);
  // tokens come at 10 a second: no more can pass than the burst and what came while they were sent
  assert.ok(ok <= 20 + Math.ceil((elapsed * 10) / 1000), `${ok} passed in ${elapsed} ms`);
  const refused = answers.filter((a) => a.status === 429);
  assert.equal(ok + refused.length, 40);
  assert.ok(refused.length > 0);
  for (const a of refused) assert.equal(a.retryAfter, '1');
  // the first 20 all passed: the bucket was full
  assert.ok(answers.slice(0, 20).every((a) => a.status === 200));
  assert.equal(member.requests.length, ok);
});

it('a client within its limit never gets 429', async () => {
  const { port } = await vip('{ requests: 1000/s, burst: 5 }');
  const answers = await statuses(5, () => get(port));
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
});

it('Retry-After says the seconds until a token: 1 a minute after a burst of 2 is 60', async () => {
  const { port } = await vip('{ requests: 1/m, burst: 2 }');
  const answers = await statuses(3, () => get(port));
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 429]);
  const wait = Number(answers[2].retryAfter);
  assert.ok(wait >= 59 && wait <= 60, `Retry-After ${answers[2].retryAfter}`);
});

it('two client addresses are limited apart; with ipv4-mask 24 they share one bucket', async () => {
  const apart = await vip('{ requests: 1/h, burst: 3 }');
  const a = await statuses(4, () => get(apart.port, '/', { from: '127.0.0.1' }));
  const b = await statuses(4, () => get(apart.port, '/', { from: '127.0.0.2' }));
  assert.deepEqual(a.map((x) => x.status), [200, 200, 200, 429]);
  assert.deepEqual(b.map((x) => x.status), [200, 200, 200, 429]);
  const together = await vip('{ requests: 1/h, burst: 3, ipv4-mask: 24 }');
  const c = await statuses(2, () => get(together.port, '/', { from: '127.0.0.1' }));
  const d = await statuses(2, () => get(together.port, '/', { from: '127.0.0.2' }));
  assert.deepEqual([...c, ...d].map((x) => x.status), [200, 200, 200, 429]);
});

it('by a header: each key has its bucket; a request without the header is counted under its address', async () => {
  const { port, member } = await vip('{ requests: 1/h, burst: 2, by: header X-Api-Key }');
  const key = (k: string) => () => get(port, '/', { headers: { 'x-api-key': k } });
  assert.deepEqual((await statuses(3, key('alpha'))).map((x) => x.status), [200, 200, 429]);
  assert.deepEqual((await statuses(3, key('beta'))).map((x) => x.status), [200, 200, 429]);
  assert.deepEqual((await statuses(3, () => get(port))).map((x) => x.status), [200, 200, 429]);
  // the map form, and a key in another case of the header's name
  const other = await vip('{ requests: 1/h, burst: 1, by: { header: x-api-key } }');
  assert.equal((await get(other.port, '/', { headers: { 'X-API-KEY': 'alpha' } })).status, 200);
  assert.equal((await get(other.port, '/', { headers: { 'x-api-key': 'alpha' } })).status, 429);
  assert.equal(member.requests.length, 6);
});

it("a route's own limit counts the requests it takes; the service's other requests are not limited by it", async () => {
  const { port } = await vip('{ requests: 1000/s, burst: 1000 }', { routes: '[ { name: api, match: { path-prefix: /api/ }, pool: web, rate-limit: { requests: 1/h, burst: 2 } } ]' });
  assert.deepEqual((await statuses(3, () => get(port, '/api/x'))).map((x) => x.status), [200, 200, 429]);
  assert.deepEqual((await statuses(5, () => get(port, '/other'))).map((x) => x.status), [200, 200, 200, 200, 200]);
});

it('with two worker threads the burst is the process\'s: 120 requests on 120 connections pass 40, served by both threads', async () => {
  const { app, port, member } = await vip('{ requests: 1/h, burst: 40 }', { workers: 2 });
  const answers = await statuses(120, () => get(port));
  assert.equal(passed(answers), 40);
  assert.equal(member.requests.length, 40);
  // the kernel spread the connections over both threads, and each let some through
  const served = (await app.workers!.stats()).map((w) => w.served['web/127.0.0.1:' + member.port] ?? 0);
  assert.equal(served.length, 2);
  assert.ok(served.every((n) => n > 0), `served ${served.join(', ')}`);
});

it('HTTP/2 (h2c): each stream is a request; one past the burst gets 429 with Retry-After, the connection goes on', async () => {
  const member = await startMember('web');
  const rateLimit = { requests: 1 / 3_600_000, burst: 3, connectionRate: 0, connectionBurst: 0, by: { kind: 'client' as const }, ipv4Mask: 32, ipv6Mask: 64, tableSize: 1024 };
  const { port } = await h2cService(pool('round-robin', [{ port: member.port }]), {}, { rateLimit });
  const session = h2Connect(port, false);
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await h2Request(session, { ':path': `/${i}` }));
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 429]);
  assert.equal(answers[3].headers['retry-after'], '3600');
  assert.equal(member.requests.length, 3);
  assert.equal((await h2Request(session, { ':path': '/again' })).status, 429);
  session.close();
});

it('with two worker threads a reload keeps an unchanged limit\'s buckets, and a changed limit starts anew in every worker', async () => {
  const { app, port, member } = await vip('{ requests: 1/h, burst: 6 }', { workers: 2 });
  assert.equal(passed(await statuses(4, () => get(port))), 4);
  // the same limit (a route added): the client has 2 tokens left, counted by both workers
  assert.deepEqual(await app.reload(configOf('{ requests: 1/h, burst: 6 }', member.port, { workers: 2, routes: '[ { name: other, match: { path: /other }, pool: web } ]' })), []);
  assert.equal(passed(await statuses(10, () => get(port))), 2);
  // a new burst: a new table with full buckets, shared by both workers
  assert.deepEqual(await app.reload(configOf('{ requests: 1/h, burst: 7 }', member.port, { workers: 2 })), []);
  assert.equal(passed(await statuses(20, () => get(port))), 7);
});

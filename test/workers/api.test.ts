// global.workers: the admin API, /metrics and the dashboard's snapshot see every worker: counters
// summed over the workers, the connection table the union of theirs, a connection ended by id
// wherever it is held. Real members, clients and admin API on loopback.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Furiwake } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';
import { call, openEvents, startAdminApp, type AdminApp } from '../admin/helpers.ts';
import { parsePrometheus, value, type Family } from '../admin/prometheus-text.ts';
import { exchange, greeted, greetedOrEnded } from '../helpers/clients.ts';
import { pool, service, single } from '../helpers/config.ts';
import { tempDir } from '../helpers/files.ts';
import { furiwake, startedWithAdmin } from '../helpers/process.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { httpConfig, startMember } from '../proxy/http/helpers.ts';
import { servedPerWorker } from './helpers.ts';

function withWorkers(config: Config, workers: number): Config {
  return { ...config, global: { ...config.global, workers } };
}

/** A member that greets with its name, echoes what it gets, and ends when the client does. */
const echo = (name: string) => (socket: net.Socket): void => {
  socket.write(`${name}\n`);
  socket.on('data', (d: Buffer) => socket.write(d));
  socket.on('end', () => socket.end());
};

async function metrics(base: string): Promise<Map<string, Family>> {
  const res = await call<string>(base, '/metrics');
  assert.equal(res.status, 200);
  return parsePrometheus(res.body);
}

/** Resolves when the socket closes (a reset too: once() would reject on its error). */
function closing(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** A GET on a connection of its own (so that the kernel spreads them over the workers). */
function get(port: number, path = '/'): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

/**
 * furiwake with workers: 2 and an admin plane, its http service `svc` in front of one member `m`
 * (pool p), with `route` first and then a route `all` to p.
 */
async function routedApp(route: string): Promise<AdminApp> {
  const m = await startMember('m');
  const config = httpConfig(pool('round-robin', [{ port: m.port, id: 'm' }]));
  config.services.svc.http!.routes = parseConfig(`services:\n  svc: { listen: 127.0.0.1:0, mode: http, pool: p, routes: [ ${route}, { name: all, pool: p } ] }\n` +
    'pools:\n  p: { members: [ { address: 127.0.0.1:1 } ] }\n', 'r.yaml', {}).services.svc.http!.routes;
  return startAdminApp(withWorkers(config, 2));
}

describe('workers: 2, counters', () => {
  it('member totals and bytes, service totals: the API and /metrics show the sum over both workers', async () => {
    const a = await startTcpServer('a', echo('a'));
    const b = await startTcpServer('b', echo('b'));
    const config = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }]));
    const { app, base } = await startAdminApp(withWorkers(config, 2));
    const port = app.address('svc').port;
    const n = 40;
    let sent = 0;
    let received = 0;
    const ends = await Promise.all(Array.from({ length: n }, (_, i) => {
      const text = `hello ${i} `.repeat(i + 1);
      sent += text.length;
      return exchange(port, text);
    }));
    for (const e of ends) {
      assert.equal(e.ending, 'end');
      received += e.data.length;
    }
    const served = await servedPerWorker(app);
    assert.ok(served.every((s) => s > 0), `one worker served all: ${served.join(', ')}`);

    const members = (await call(base, '/api/v1/pools/p/members')).body as { id: string; connections: { total: number; failed: number }; bytes: { in: number; out: number } }[];
    const sum = (read: (m: (typeof members)[number]) => number): number => members.reduce((s, m) => s + read(m), 0);
    assert.equal(sum((m) => m.connections.total), n);
    assert.equal(sum((m) => m.connections.failed), 0);
    assert.equal(sum((m) => m.bytes.in), sent);
    assert.equal(sum((m) => m.bytes.out), received);
    const svc = (await call(base, '/api/v1/services/svc')).body as { connections: { total: number } };
    assert.equal(svc.connections.total, n);

    const families = await metrics(base);
    const perMember = (name: string): number => value(families, name, { member: 'a' }) + value(families, name, { member: 'b' });
    assert.equal(perMember('furiwake_member_connections_total'), n);
    assert.equal(perMember('furiwake_member_bytes_in_total'), sent);
    assert.equal(perMember('furiwake_member_bytes_out_total'), received);
    assert.equal(value(families, 'furiwake_service_connections_total', { service: 'svc' }), n);
    // read again: a second refresh adds nothing that was not counted since
    const again = await metrics(base);
    assert.equal(value(again, 'furiwake_member_connections_total', { member: 'a' }) + value(again, 'furiwake_member_connections_total', { member: 'b' }), n);

    // the dashboard: its snapshot has the sums, and its once-a-second tick the rates
    const events = await openEvents(base);
    after(() => events.close());
    type Snap = { pools: { members: { connections: { total: number }; rates: { connections: number; bytesIn: number } }[] }[]; services: { rates: { connections: number } }[] };
    const first = (await events.next((e) => e.event === 'snapshot')).data as Snap;
    assert.equal(first.pools[0].members.reduce((s, m) => s + m.connections.total, 0), n);
    const ticked = (await events.next((e) => e.event === 'snapshot' && (e.data as Snap).services[0].rates.connections > 0)).data as Snap;
    assert.ok(ticked.pools[0].members.every((m) => m.rates.connections > 0 && m.rates.bytesIn > 0));
  });

  it('http requests by member and status: summed in the API and /metrics', async () => {
    const m = await startMember('m');
    const config = httpConfig(pool('round-robin', [{ port: m.port, id: 'm' }]));
    const { app, base } = await startAdminApp(withWorkers(config, 2));
    const port = app.address('svc').port;
    const n = 30;
    const statuses = await Promise.all(Array.from({ length: n }, () => get(port)));
    assert.deepEqual(new Set(statuses), new Set([200]));
    const served = await servedPerWorker(app);
    assert.ok(served.every((s) => s > 0), `one worker served all: ${served.join(', ')}`);

    const svc = (await call(base, '/api/v1/services/svc')).body as { requests: number; connections: { total: number } };
    assert.equal(svc.requests, n);
    assert.equal(svc.connections.total, n);
    const member = (await call(base, '/api/v1/pools/p/members/m')).body as { requests: number; connections: { total: number } };
    assert.equal(member.requests, n);
    assert.equal(member.connections.total, n);
    const families = await metrics(base);
    assert.equal(value(families, 'furiwake_http_requests_total', { service: 'svc', member: 'm', code: '2xx' }), n);
    assert.equal(value(families, 'furiwake_member_connections_total', { member: 'm' }), n);
  });

  it("each http route's requests and 5xx answers: summed in the API and /metrics", async () => {
    const { app, base } = await routedApp('{ name: nope, match: { path: /nope }, respond: { status: 503, body: "no" } }');
    const port = app.address('svc').port;
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => get(port, i % 3 === 0 ? '/nope' : '/')));
    assert.equal(statuses.filter((s) => s === 503).length, 10);
    const served = (await app.workers!.stats()).map((w) => w.served['p/m'] ?? 0);
    assert.ok(served.every((s) => s > 0), `one worker served all: ${served.join(', ')}`);
    const view = (await call(base, '/api/v1/services/svc')).body as { routes: { name: string; requests: number; errors: number }[] };
    assert.deepEqual(view.routes.map((r) => [r.name, r.requests, r.errors]), [['nope', 10, 10], ['all', 20, 0]]);
    const families = await metrics(base);
    assert.equal(value(families, 'furiwake_route_requests_total', { service: 'svc', route: 'all' }), 20);
    assert.equal(value(families, 'furiwake_route_errors_total', { service: 'svc', route: 'nope' }), 10);
  });
});

describe('workers: 2, queues and refusals', () => {
  it("a pool's queue length and queue timeouts are the workers' summed", async () => {
    const a = await startTcpServer('a', echo('a'));
    // two pools on the one member with room for one: a long queue to see it fill, a short one to see it time out
    const config: Config = {
      global: { shutdownGrace: 0, logLevel: 'silent', workers: 2 },
      services: { long: service('tcp', 'long'), short: service('tcp', 'short') },
      pools: {
        long: pool('round-robin', [{ port: a.port, id: 'a', maxConnections: 1 }], { max: 100, timeout: 60_000 }),
        short: pool('round-robin', [{ port: a.port, id: 'a', maxConnections: 1 }], { max: 100, timeout: 200 }),
      },
    };
    const { app, base } = await startAdminApp(config);
    const [long, short] = [app.address('long').port, app.address('short').port];
    const held = await Promise.all([greeted(long), greeted(short)]);
    const waiting = Array.from({ length: 8 }, () => net.connect({ port: long, host: '127.0.0.1' }).on('error', () => {}));
    after(() => waiting.forEach((s) => s.destroy()));
    // each answer is the workers' queues of now: asked until all 8 wait (they were accepted in turn)
    let queued = 0;
    while (queued < 8) queued = ((await call(base, '/api/v1/pools/long')).body as { queue: { length: number } }).queue.length;
    assert.equal(queued, 8);
    assert.equal(value(await metrics(base), 'furiwake_pool_queue_length', { pool: 'long' }), 8);

    const ends = await Promise.all(Array.from({ length: 8 }, () => exchange(short)));
    assert.ok(ends.every((e) => e.ending === 'end' && e.data.length === 0), 'each is turned away at the timeout');
    const pools = (await call(base, '/api/v1/pools')).body as { name: string; queue: { timeouts: number } }[];
    assert.equal(pools.find((p) => p.name === 'short')!.queue.timeouts, 8);
    assert.equal(value(await metrics(base), 'furiwake_pool_queue_timeouts_total', { pool: 'short' }), 8);
    for (const h of held) h.socket.destroy();
  });

  it('clients refused at their max-connections-per-client are counted on every worker', async () => {
    const a = await startTcpServer('a', echo('a'));
    const config = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }]), { maxConnectionsPerClient: 1 });
    const { app, base } = await startAdminApp(withWorkers(config, 2));
    const port = app.address('svc').port;
    const n = 12;
    // held open: a client let in is greeted by its member; one refused is closed without a word
    const outcomes = await Promise.all(Array.from({ length: n }, () => greetedOrEnded(port)));
    const held = outcomes.filter((s) => s !== null);
    // the cap is each worker's own: at most one held on each
    assert.ok(held.length >= 1 && held.length <= 2, `${held.length} held`);
    assert.equal(value(await metrics(base), 'furiwake_client_cap_refused_total'), n - held.length);
    for (const s of held) s.destroy();
  });
});

describe('workers: 2, the connection table', () => {
  it('lists the connections held on both workers, ends one by id on the worker that holds it, 404 for an unknown id', async () => {
    const a = await startTcpServer('a', echo('a'));
    const config = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }]));
    const { app, base } = await startAdminApp(withWorkers(config, 2));
    const port = app.address('svc').port;
    const held = await Promise.all(Array.from({ length: 20 }, () => greeted(port)));
    const byPort = new Map(held.map(({ socket }) => [socket.localPort!, socket]));
    // each side sent something: the live connections' bytes show before they end
    await Promise.all(held.map(async ({ socket }) => {
      const back = once(socket, 'data');
      socket.resume();
      socket.write('ping');
      await back;
    }));

    const perWorker = (await app.workers!.stats()).map((s) => s.connections);
    assert.ok(perWorker.every((c) => c > 0), `one worker holds all: ${perWorker.join(', ')}`);
    const page = (await call(base, '/api/v1/connections?limit=1000')).body as { total: number; items: { id: number; worker?: number; client: { port: number }; bytesIn: number }[] };
    assert.equal(page.total, 20);
    assert.equal(page.items.length, 20);
    assert.equal(new Set(page.items.map((c) => c.id)).size, 20, 'ids are unique across the workers');
    assert.deepEqual(new Set(page.items.map((c) => c.client.port)), new Set(byPort.keys()));
    for (const w of [0, 1]) assert.equal(page.items.filter((c) => c.worker === w).length, perWorker[w], `worker ${w}`);
    assert.ok(page.items.every((c) => c.bytesIn === 4));

    // a page is the same slice of the one list, oldest first
    const slice = (await call(base, '/api/v1/connections?offset=5&limit=7')).body as typeof page;
    assert.equal(slice.total, 20);
    assert.deepEqual(slice.items.map((c) => c.id), page.items.slice(5, 12).map((c) => c.id));
    assert.ok(page.items.every((c, i) => i === 0 || (c as unknown as { startedAt: number }).startedAt >= (page.items[i - 1] as unknown as { startedAt: number }).startedAt));

    // the counts that read the workers' live connections
    const status = (await call(base, '/api/v1/status')).body as { connections: number };
    assert.equal(status.connections, 20);
    const svc = (await call(base, '/api/v1/services/svc')).body as { connections: { active: number; total: number } };
    assert.deepEqual(svc.connections, { active: 20, total: 20 });
    const member = (await call(base, '/api/v1/pools/p/members/a')).body as { connections: { active: number }; bytes: { in: number; out: number } };
    assert.equal(member.connections.active, 20);
    assert.equal(member.bytes.in, 20 * 4);
    assert.equal(member.bytes.out, 20 * ('a\n'.length + 4));

    // end one held by worker 1: its client sees the connection go
    const victim = page.items.find((c) => c.worker === 1)!;
    const socket = byPort.get(victim.client.port)!;
    const closed = closing(socket);
    const ended = await call(base, `/api/v1/connections/${victim.id}`, { method: 'DELETE' });
    assert.equal(ended.status, 200);
    assert.deepEqual(ended.body, { ended: 1, kernel: 0 });
    await closed;
    const after = (await call(base, '/api/v1/connections?limit=1000')).body as typeof page;
    assert.equal(after.total, 19);
    assert.ok(!after.items.some((c) => c.id === victim.id));

    // the same id again, an id in a worker's range that was never given, one in the main thread's
    for (const id of [victim.id, victim.id + 1_000_000, 999_999]) {
      const missing = await call(base, `/api/v1/connections/${id}`, { method: 'DELETE' });
      assert.equal(missing.status, 404, `id ${id}`);
    }

    // ending a member's connections reaches both workers
    const rest = [...byPort.values()].filter((s) => s !== socket).map(closing);
    const all = await call(base, '/api/v1/connections?pool=p&member=a', { method: 'DELETE' });
    assert.deepEqual(all.body, { ended: 19, kernel: 0 });
    await Promise.all(rest);
    assert.equal(((await call(base, '/api/v1/connections')).body as typeof page).total, 0);
  });

  it('a member disabled through the API (on-member-down: close) loses its connections on both workers', async () => {
    const a = await startTcpServer('a', echo('a'));
    const config = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }], {}, { onMemberDown: 'close' }));
    const { app, base } = await startAdminApp(withWorkers(config, 2));
    const port = app.address('svc').port;
    const held = await Promise.all(Array.from({ length: 12 }, () => greeted(port)));
    const perWorker = (await app.workers!.stats()).map((s) => s.connections);
    assert.ok(perWorker.every((c) => c > 0), `one worker holds all: ${perWorker.join(', ')}`);
    const closed = held.map(({ socket }) => closing(socket));
    const patched = await call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', body: { state: 'disabled' } });
    assert.equal(patched.status, 200);
    await Promise.all(closed);
    assert.equal(((await call(base, '/api/v1/connections')).body as { total: number }).total, 0);
  });
});

describe('workers: 2, furiwake ctl', () => {
  it('ctl status and ctl connections show every worker\'s connections', async () => {
    const a = await startTcpServer('a', echo('a'));
    const dir = await tempDir('workers-ctl');
    const file = path.join(dir, 'furiwake.yaml');
    await writeFile(file, [
      'global: { shutdown-grace: 0s, log-level: info, workers: 2 }',
      'admin: { listen: 127.0.0.1:0 }',
      'services:',
      '  www: { listen: 127.0.0.1:0, mode: tcp, pool: web }',
      'pools:',
      `  web: { members: [ { address: 127.0.0.1:${a.port}, id: a } ] }`,
      '',
    ].join('\n'));
    const { run: lb, admin } = await startedWithAdmin(file);
    const vip = (await lb.event('service listening')).port as number;
    const ctl = async (args: string[]): Promise<string> => {
      const run = furiwake(['ctl', '--admin', admin, ...args]);
      assert.equal(await run.exit(), 0, run.stderr);
      return run.stdout;
    };

    await Promise.all(Array.from({ length: 10 }, (_, i) => exchange(vip, `bye ${i}`)));
    const held = await Promise.all(Array.from({ length: 10 }, () => greeted(vip)));
    const status = JSON.parse(await ctl(['status', '--json'])) as { status: { connections: number }; services: { connections: { active: number; total: number } }[] };
    assert.equal(status.status.connections, 10);
    assert.deepEqual(status.services[0].connections, { active: 10, total: 20 });
    const listed = JSON.parse(await ctl(['connections', '--json'])) as { total: number; items: { worker?: number; client: { port: number } }[] };
    assert.equal(listed.total, 10);
    assert.deepEqual(new Set(listed.items.map((c) => c.client.port)), new Set(held.map((h) => h.socket.localPort)));
    assert.deepEqual(new Set(listed.items.map((c) => c.worker)), new Set([0, 1]));
    const text = await ctl(['connections']);
    assert.match(text, /^ID\s+WORKER\s+SERVICE\s+CLIENT/);
    for (const h of held) assert.match(text, new RegExp(`^\\d+\\s+[01]\\s+www\\s+127\\.0\\.0\\.1:${h.socket.localPort}\\s`, 'm'));
    for (const h of held) h.socket.destroy();
  });
});

describe('workers: 2, event loops', () => {
  it("a worker's event loop held by a long task shows in furiwake_worker_event_loop_delay_max_seconds", async () => {
    // a route whose regex backtracks exponentially on a path of a's ending in '!': matching it
    // holds the worker's loop for a long while (some 0.3 to 2 s), and then the request goes on
    const { app, base } = await routedApp('{ name: slow, match: { path-regex: "^/(a+)+$" }, respond: { status: 404 } }');
    const port = app.address('svc').port;
    const name = 'furiwake_worker_event_loop_delay_max_seconds';
    // every worker has its figure; this read starts the next interval
    const first = await metrics(base);
    for (const worker of ['0', '1']) assert.ok(value(first, name, { worker }) >= 0, `worker ${worker}`);
    assert.equal(await get(port, `/${'a'.repeat(26)}!`), 200);
    // (the dashboard's rates ask the workers every second too: what they took is kept for this read)
    const held = await metrics(base);
    const longest = Math.max(...['0', '1'].map((worker) => value(held, name, { worker })));
    assert.ok(longest >= 0.05, `the longest delay reported: ${longest} s`);
  });
});

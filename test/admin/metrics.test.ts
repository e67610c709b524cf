// /metrics: the page parses strictly as Prometheus text, and its numbers are those of real
// traffic — N connections through a tcp service give a counter of N, the bytes that crossed
// the wire, the checks the health manager ran, the queue that filled and timed out.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { AdminPlane } from '../../src/admin/plane.ts';
import type { MonitorConfig } from '../../src/config/health-types.ts';
import type { PoolConfig } from '../../src/config/types.ts';
import { exchange, greeted } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { httpConfig, startMember } from '../proxy/http/helpers.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { adminConfig, call, startAdminApp, TestStickTable } from './helpers.ts';
import { parsePrometheus, value, type Family } from './prometheus-text.ts';
import { freePort } from '../helpers/ports.ts';


async function scrape(base: string): Promise<Map<string, Family>> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheus(await res.text());
}

const tcpMonitor = (interval: number): MonitorConfig => ({ type: 'tcp', interval, fastInterval: interval, timeout: 1_000, rise: 1, fall: 1, port: null, send: null, expect: null });

function withMonitor(p: PoolConfig, monitors: MonitorConfig[]): PoolConfig {
  return { ...p, health: { require: { kind: 'all' }, monitors, agent: null, initialState: 'up' } };
}

describe('metrics', () => {
  it('counts N connections and their bytes through a tcp service', async () => {
    const a = await startTcpServer('a');
    const b = await startTcpServer('b');
    const { base, app } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }])));
    const port = app.address('svc').port;
    const N = 25;
    const payload = 'hello furiwake\n';
    for (let i = 0; i < N; i++) assert.match(String((await exchange(port, payload)).data), /^[ab]\n$/);
    const held = await greeted(port);

    const m = await scrape(base);
    assert.equal(value(m, 'furiwake_service_connections_total', { service: 'svc' }), N + 1);
    assert.equal(value(m, 'furiwake_service_connections_active', { service: 'svc' }), 1);
    const total = (id: string) => value(m, 'furiwake_member_connections_total', { pool: 'p', member: id });
    assert.equal(total('a') + total('b'), N + 1);
    assert.deepEqual([total('a'), total('b')], [13, 13], 'round-robin');
    assert.equal(value(m, 'furiwake_member_connections_active', { pool: 'p', member: held.line }), 1);
    const bytesIn = (id: string) => value(m, 'furiwake_member_bytes_in_total', { pool: 'p', member: id });
    const bytesOut = (id: string) => value(m, 'furiwake_member_bytes_out_total', { pool: 'p', member: id });
    assert.equal(bytesIn('a') + bytesIn('b'), N * payload.length);
    assert.equal(bytesOut('a') + bytesOut('b'), (N + 1) * 2, 'every greeting "x\\n", the held connection\'s included while it is open');
    assert.equal(value(m, 'furiwake_member_connect_failures_total', { pool: 'p', member: 'a' }), 0);
    assert.equal(m.get('furiwake_member_connections_total')?.type, 'counter');
    assert.equal(m.get('furiwake_member_connections_active')?.type, 'gauge');
    held.socket.destroy();
    await once(held.socket, 'close');
  });

  it('shows member state as one 1 among its states, weights and limits', async () => {
    const a = await startTcpServer('a');
    const b = await startTcpServer('b');
    const { base, app } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a', weight: 3, maxConnections: 7 }, { port: b.port, id: 'b' }])));
    await call(base, '/api/v1/pools/p/members/b', { method: 'PATCH', body: { state: 'disabled' } });
    const m = await scrape(base);
    const states = m.get('furiwake_member_state')!.samples.filter((s) => s.labels.member === 'b');
    assert.deepEqual(states.filter((s) => s.value === 1).map((s) => s.labels.state), ['disabled']);
    assert.equal(states.length, 8);
    assert.equal(value(m, 'furiwake_member_state', { member: 'a', state: 'up' }), 1);
    assert.equal(value(m, 'furiwake_member_weight', { member: 'a' }), 3);
    assert.equal(value(m, 'furiwake_member_max_connections', { member: 'a' }), 7);
    assert.equal(value(m, 'furiwake_pool_members_usable', { pool: 'p' }), 1);
    assert.equal(app.runtime.member('p', 'b')!.admin, 'disabled');
  });

  it('counts health checks by result, with a histogram of their durations', async () => {
    const up = await startTcpServer('up');
    const down = await freePort();
    const { base, app } = await startAdminApp(single('tcp', withMonitor(pool('round-robin', [{ port: up.port, id: 'up' }, { port: down, id: 'down' }]), [tcpMonitor(100)])));
    // wait for three checks of each member, as the health manager reports them
    const seen = new Map<string, number>();
    await new Promise<void>((resolve) => {
      const onCheck = (member: { id: string }) => {
        seen.set(member.id, (seen.get(member.id) ?? 0) + 1);
        if ((seen.get('up') ?? 0) >= 3 && (seen.get('down') ?? 0) >= 3) {
          app.health.events.off('check', onCheck);
          resolve();
        }
      };
      app.health.events.on('check', onCheck);
    });
    const m = await scrape(base);
    const pass = value(m, 'furiwake_health_checks_total', { member: 'up', monitor: 'tcp', result: 'pass' });
    const fail = value(m, 'furiwake_health_checks_total', { member: 'down', monitor: 'tcp', result: 'fail' });
    assert.ok(pass >= 3 && fail >= 3, `pass ${pass}, fail ${fail}`);
    assert.equal(m.get('furiwake_health_checks_total')!.samples.filter((s) => s.labels.member === 'up' && s.labels.result !== 'pass').length, 0);
    // the histogram and the counter are updated together, at each check
    assert.equal(value(m, 'furiwake_health_check_duration_seconds_count', { member: 'up', monitor: 'tcp' }), pass);
    assert.equal(value(m, 'furiwake_health_check_duration_seconds_count', { member: 'down', monitor: 'tcp' }), fail);
    assert.ok(value(m, 'furiwake_health_check_duration_seconds_bucket', { member: 'up', le: '10' }) === pass);
    assert.equal(m.get('furiwake_health_check_duration_seconds')!.type, 'histogram');
    assert.equal(value(m, 'furiwake_member_state', { member: 'down', state: 'down' }), 1);
  });

  it('shows the queue filling and its timeouts', async () => {
    const a = await startTcpServer('a');
    const { base, app } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a', maxConnections: 1 }], { max: 5, timeout: 300 })));
    const port = app.address('svc').port;
    const first = await greeted(port);
    // the second waits for room in the queue; it is turned away (FIN) when the timeout passes
    const second = exchange(port);
    await new Promise<void>((resolve) => {
      const poll = () => (app.runtime.pools.get('p')!.queued === 1 ? resolve() : setImmediate(poll));
      poll();
    });
    assert.equal(value(await scrape(base), 'furiwake_pool_queue_length', { pool: 'p' }), 1);
    assert.equal((await second).ending, 'end');
    const m = await scrape(base);
    assert.equal(value(m, 'furiwake_pool_queue_timeouts_total', { pool: 'p' }), 1);
    assert.equal(value(m, 'furiwake_pool_queue_length', { pool: 'p' }), 0);
    first.socket.destroy();
    await once(first.socket, 'close');
  });

  it('counts HTTP responses by status class, as the http data plane reports them', async () => {
    const a = await startTcpServer('a');
    const { base, app } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
    const member = app.runtime.member('p', 'a')!;
    for (const status of [200, 204, 301, 404, 502]) app.runtime.requests.count('svc', member, status);
    app.runtime.requests.count('svc', member, 200);
    app.runtime.requests.count('svc', null, 503);
    const m = await scrape(base);
    const requests = (code: string, member: string) => value(m, 'furiwake_http_requests_total', { service: 'svc', member, code });
    assert.deepEqual([requests('2xx', 'a'), requests('3xx', 'a'), requests('4xx', 'a'), requests('5xx', 'a'), requests('5xx', '')], [3, 1, 1, 1, 1]);
    assert.equal((await call(base, '/api/v1/pools/p/members/a')).body.requests, 6);
  });

  it('counts the responses of a real http service by status class and member', async () => {
    const a = await startMember('a', (req, res) => {
      res.statusCode = req.url === '/missing' ? 404 : 200;
      res.end('a');
    });
    const config = httpConfig(pool('round-robin', [{ port: a.port, id: 'a' }]));
    const { base, app } = await startAdminApp(config);
    const port = app.address('svc').port;
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => [r.status, await r.text()]);
    for (let i = 0; i < 5; i++) assert.deepEqual(await get('/'), [200, 'a']);
    assert.equal((await get('/missing'))[0], 404);
    await call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', body: { state: 'disabled' } });
    assert.equal((await get('/'))[0], 503, 'no usable member: furiwake answers itself');
    const m = await scrape(base);
    const requests = (code: string, member: string) => value(m, 'furiwake_http_requests_total', { service: 'svc', pool: member === '' ? '' : 'p', member, code });
    assert.deepEqual([requests('2xx', 'a'), requests('4xx', 'a'), requests('5xx', '')], [5, 1, 1]);
    assert.equal((await call(base, '/api/v1/pools/p/members/a')).body.requests, 6);
  });

  it('shows stick table sizes and evictions, process metrics, and the version', async () => {
    const a = await startTcpServer('a');
    const { app } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
    const table = new TestStickTable([['10.0.0.1', 'a'], ['10.0.0.2', 'a']]);
    const plane = new AdminPlane({
      runtime: app.runtime, log: app.log, health: app.health, load: null, reload: (c) => app.reload(c), listener: (n) => app.listener(n),
      stickTables: () => [{ service: 'svc', method: 'source-ip', pool: 'p', table }],
    });
    after(() => plane.close());
    await plane.apply(adminConfig());
    const m = await scrape(`http://127.0.0.1:${plane.address()!.port}`);
    assert.equal(value(m, 'furiwake_stick_table_entries', { service: 'svc' }), 2);
    assert.equal(value(m, 'furiwake_stick_table_max_entries', { service: 'svc' }), 100);
    assert.equal(value(m, 'furiwake_stick_table_evictions_total', { service: 'svc' }), 1);
    assert.equal(value(m, 'furiwake_stick_table_expirations_total', { service: 'svc' }), 2);
    assert.equal(value(m, 'furiwake_stick_table_hits_total', { service: 'svc' }), 7);
    assert.equal(m.get('process_cpu_user_seconds_total')?.type, 'counter');
    assert.ok(value(m, 'process_resident_memory_bytes') > 0);
    assert.equal(m.get('nodejs_eventloop_lag_seconds')?.type, 'gauge');
    assert.equal(m.get('furiwake_build_info')!.samples[0].value, 1);
  });

  it('process_cpu_seconds_total counts from the start of the process, not from the first scrape', async () => {
    const a = await startTcpServer('a');
    const { base } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
    const before = process.cpuUsage();
    const m = await scrape(base);
    assert.ok(value(m, 'process_cpu_seconds_total') >= (before.user + before.system) / 1e6);
    assert.ok(value(m, 'process_cpu_user_seconds_total') >= before.user / 1e6);
    assert.ok(value(m, 'process_cpu_system_seconds_total') >= before.system / 1e6);
    assert.equal(m.get('process_cpu_seconds_total')?.type, 'counter');
  });

  it('a node that runs no conntrackd has no conntrack sample, not a 0 an alert would read as "down"', async () => {
    const a = await startTcpServer('a');
    const { base } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
    const m = await scrape(base);
    for (const name of ['furiwake_ha_conntrack_running', 'furiwake_ha_conntrack_restarts_total', 'furiwake_ha_conntrack_commands_total']) {
      assert.deepEqual(m.get(name)?.samples ?? [], [], name);
    }
    assert.equal(m.get('furiwake_build_info')!.samples[0].value, 1);
  });

  it('every furiwake metric has HELP and TYPE and a conventional name', async () => {
    const a = await startTcpServer('a');
    const { base } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
    const m = await scrape(base);
    for (const f of [...m.values()].filter((f) => f.name.startsWith('furiwake_'))) {
      assert.notEqual(f.help, '', f.name);
      assert.notEqual(f.type, 'untyped', f.name);
      if (f.type === 'counter') assert.match(f.name, /_total$/, f.name);
      else assert.doesNotMatch(f.name, /_total$/, f.name);
    }
  });
});

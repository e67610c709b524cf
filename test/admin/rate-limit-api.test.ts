// The rate limits in the admin API and /metrics, with two worker threads: what the workers
// counted in the shared tables is what the main thread shows (settings, keys, passed, refused), and
// a service's buckets list with their keys (addresses, header values) and route.

import assert from 'node:assert/strict';
import http from 'node:http';
import { it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { startMember } from '../proxy/http/helpers.ts';
import { call, startAdminApp } from './helpers.ts';
import { parsePrometheus, value } from './prometheus-text.ts';

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject);
  });
}

it('shows each limit and its buckets, counted across two worker threads, and in /metrics', async () => {
  const member = await startMember('web');
  const config = parseConfig(`global: { log-level: silent, workers: 2 }
services:
  www:
    listen: 127.0.0.1:0
    mode: http
    pool: web
    rate-limit: { requests: 1/h, burst: 4, connection-rate: 1000/s }
    routes: [ { name: api, match: { path-prefix: /api/ }, pool: web, rate-limit: { requests: 1/h, burst: 1, by: header X-Api-Key } } ]
pools:
  web: { members: [ { address: 127.0.0.1:${member.port} } ] }
`, 'rate.yaml', {});
  const { app, base } = await startAdminApp(config);
  const port = app.address('www').port;
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) codes.push(await get(port, '/'));
  assert.deepEqual(codes, [200, 200, 200, 200, 429, 429]);

  const limits = (await call(base, '/api/v1/rate-limits')).body as { route: string | null; limit: string; rate: number; burst: number; by: string; keys: number; passed: number; refused: number }[];
  assert.equal(limits.length, 3);
  const requests = limits.find((l) => l.route === null && l.limit === 'requests')!;
  assert.deepEqual({ rate: Math.round(requests.rate * 3600), burst: requests.burst, by: requests.by, keys: requests.keys, passed: requests.passed, refused: requests.refused },
    { rate: 1, burst: 4, by: 'client', keys: 1, passed: 4, refused: 2 });
  const connections = limits.find((l) => l.limit === 'connections')!;
  assert.equal(connections.passed, 6);
  const api = limits.find((l) => l.route === 'api')!;
  assert.equal(api.by, 'header x-api-key');

  const page = (await call(base, '/api/v1/rate-limits/www')).body as { total: number; items: { route: string | null; limit: string; key: string; tokens: number; passed: number; refused: number }[] };
  const mine = page.items.find((e) => e.limit === 'requests' && e.route === null)!;
  assert.deepEqual({ key: mine.key, tokens: Math.floor(mine.tokens), passed: mine.passed, refused: mine.refused }, { key: '127.0.0.1', tokens: 0, passed: 4, refused: 2 });
  assert.equal((await call(base, '/api/v1/rate-limits/nope')).status, 404);

  const metrics = parsePrometheus((await call(base, '/metrics')).body as string);
  assert.equal(value(metrics, 'furiwake_rate_limit_passed_total', { service: 'www', route: '', limit: 'requests' }), 4);
  assert.equal(value(metrics, 'furiwake_rate_limit_refused_total', { service: 'www', route: '', limit: 'requests' }), 2);
  assert.equal(value(metrics, 'furiwake_rate_limit_keys', { service: 'www', route: '', limit: 'requests' }), 1);
  assert.equal(value(metrics, 'furiwake_http_requests_total', { service: 'www', pool: '', member: '', code: '4xx' }), 2);
});

// A service's rate limits across a reload (runtime/rate-limits.ts): a limit whose settings stay
// keeps its table (its buckets go on), one that changes starts anew, a route's limit goes with
// its route; and a worker's service counts in the main thread's tables.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import type { ServiceConfig } from '../../src/config/types.ts';
import { RateLimits } from '../../src/runtime/rate-limits.ts';

function www(limit: string, routeLimit = ''): ServiceConfig {
  const route = routeLimit === '' ? '' : `, routes: [ { name: api, match: { path-prefix: /api/ }, pool: web, rate-limit: ${routeLimit} } ]`;
  return parseConfig(`services:
  www: { listen: 127.0.0.1:8080, mode: http, pool: web, rate-limit: ${limit}${route} }
pools:
  web: { members: [ { address: 10.0.0.1:80 } ] }
`, 'test.yaml', {}).services.www;
}

it('keeps the table of a limit that did not change, starts one for a limit that did', () => {
  const before = RateLimits.of(www('{ requests: 10/s, connection-rate: 5/s }', '{ requests: 1/s }'), null)!;
  before.requests!.table.takeAddress('10.1.1.1', 32, 64, Date.now());
  const same = RateLimits.of(www('{ requests: 10/s, connection-rate: 5/s }', '{ requests: 1/s }'), before)!;
  assert.equal(same.requests!.table, before.requests!.table);
  assert.equal(same.connections!.table, before.connections!.table);
  assert.equal(same.routes.get('api')!.table, before.routes.get('api')!.table);
  const changed = RateLimits.of(www('{ requests: 20/s, connection-rate: 5/s }', '{ requests: 1/s, by: header X-Key }'), same)!;
  assert.notEqual(changed.requests!.table, same.requests!.table);
  assert.equal(changed.requests!.table.rate, 0.02);
  assert.equal(changed.connections!.table, same.connections!.table);
  assert.notEqual(changed.routes.get('api')!.table, same.routes.get('api')!.table);
  const gone = RateLimits.of(www('{ requests: 20/s }'), changed)!;
  assert.equal(gone.connections, null);
  assert.equal(gone.routes.size, 0);
  assert.equal(RateLimits.of({ ...www('{ requests: 1/s }'), rateLimit: null }, gone), null);
});

it("a worker's limits count in the tables the main thread made", () => {
  const main = RateLimits.of(www('{ requests: 1/h, burst: 1 }', '{ requests: 1/h }'), null)!;
  const worker = RateLimits.of(www('{ requests: 1/h, burst: 1 }', '{ requests: 1/h }'), null)!;
  worker.share(new Map(main.tables()), 0);
  assert.equal(worker.requests!.table.buffer, main.requests!.table.buffer);
  assert.equal(worker.routes.get('api')!.table.buffer, main.routes.get('api')!.table.buffer);
  assert.equal(worker.requests!.table.takeAddress('10.1.1.1', 32, 64, 0), 0);
  assert.ok(main.requests!.table.takeAddress('10.1.1.1', 32, 64, 0) > 0);
});

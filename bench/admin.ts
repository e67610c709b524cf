// What the management plane costs at scale, outside any network: the per-second rate tick, a
// dashboard snapshot (built and serialized), and a /metrics scrape, for 1,000 members and
// 20,000 live connections. Run: npx node bench/admin.ts
//
// The tick runs whether or not anyone watches; snapshots run once a second while a dashboard is
// open; scrapes run at Prometheus' interval. The data path pays none of them (counters are read
// when asked), so these figures are the whole cost: CPU time of the process per second.

import { EventEmitter } from 'node:events';
import type { HealthEventMap } from '../src/health/manager.ts';
import type { ApiContext, AdminHost } from '../src/admin/host.ts';
import { AdminMetrics } from '../src/admin/metrics.ts';
import { RateEstimator } from '../src/admin/rates.ts';
import { snapshot } from '../src/admin/snapshot.ts';
import type { Config, PoolConfig } from '../src/config/types.ts';
import { createLogger } from '../src/log.ts';
import type { ConnectionEntry } from '../src/runtime/connection-table.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { PASSIVE_OFF } from '../src/runtime/passive-health.ts';
// the tests' builder of a normalized service, so this file follows the config as it grows
import { service } from '../test/helpers/config.ts';

const POOLS = 100;
const MEMBERS = 10;
const CONNECTIONS = 20_000;
const RUNS = 50;

function config(): Config {
  const pools: Record<string, PoolConfig> = {};
  const services: Config['services'] = {};
  for (let p = 0; p < POOLS; p++) {
    pools[`pool${p}`] = {
      algorithm: 'round-robin',
      members: Array.from({ length: MEMBERS }, (_, m) => ({
        address: { host: `10.${p}.0.${m + 1}`, ip: `10.${p}.0.${m + 1}`, port: 8080 }, id: `m${m}`, weight: 1, maxConnections: 0, backup: false, health: null,
      })),
      queue: { max: 1000, timeout: 5000 },
      health: { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'up' },
      slowStart: 0,
      onMemberDown: null,
      passiveHealth: PASSIVE_OFF,
    };
    services[`svc${p}`] = service('tcp', `pool${p}`, { listen: { host: '127.0.0.1', ip: '127.0.0.1', port: 10_000 + p } });
  }
  return { global: { shutdownGrace: 0, logLevel: 'silent' }, services, pools };
}

const runtime = new Runtime();
runtime.apply(config());
const members = [...runtime.pools.values()].flatMap((p) => p.members);
for (let i = 0; i < CONNECTIONS; i++) {
  const member = members[i % members.length];
  member.active++;
  member.total++;
  const entry: ConnectionEntry = {
    id: runtime.connections.nextId(), protocol: 'tcp', service: `svc${i % POOLS}`,
    client: { address: '192.0.2.1', port: 1024 + (i % 60_000) }, vip: { address: '127.0.0.1', port: 10_000 + (i % POOLS) },
    member, local: { address: '10.255.0.1', port: 2000 + (i % 60_000) }, startedAt: Date.now(), bytesIn: i * 10, bytesOut: i * 100,
    abort: () => {}, terminate: () => {},
  };
  runtime.connections.add(entry);
}

const host: AdminHost = {
  runtime, log: createLogger('silent'), health: { events: new EventEmitter<HealthEventMap>() }, load: null,
  reload: async () => [], listener: () => undefined,
};
const rates = new RateEstimator(runtime);
const api: ApiContext = {
  host, rates, startedAt: Date.now(), stickTables: () => [],
  access: () => ({ reads: 'open', writes: 'token' }), serviceAddress: () => null, serviceDrops: () => null, requireToken: () => {},
};
const metrics = new AdminMetrics(host, () => []);

async function measure(name: string, run: () => unknown): Promise<void> {
  for (let i = 0; i < 5; i++) await run();
  const started = performance.now();
  for (let i = 0; i < RUNS; i++) await run();
  const ms = (performance.now() - started) / RUNS;
  console.log(`${name.padEnd(44)} ${ms.toFixed(2).padStart(8)} ms`);
}

console.log(`${POOLS * MEMBERS} members in ${POOLS} pools, ${CONNECTIONS} live connections, mean of ${RUNS} runs`);
await measure('rate tick (every second)', () => rates.tick());
let size = 0;
await measure('dashboard snapshot, built and serialized', async () => (size = JSON.stringify(await snapshot(api, false)).length));
console.log(`${'  snapshot size'.padEnd(44)} ${(size / 1024).toFixed(0).padStart(8)} KiB`);
await measure('first snapshot (with each member\'s history)', async () => (size = JSON.stringify(await snapshot(api, true)).length));
console.log(`${'  first snapshot size'.padEnd(44)} ${(size / 1024).toFixed(0).padStart(8)} KiB`);
let text = '';
const started = performance.now();
for (let i = 0; i < RUNS; i++) text = await metrics.text();
console.log(`${'/metrics scrape'.padEnd(44)} ${((performance.now() - started) / RUNS).toFixed(2).padStart(8)} ms`);
console.log(`${'  page size'.padEnd(44)} ${(text.length / 1024).toFixed(0).padStart(8)} KiB, ${text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length} samples`);
metrics.close();

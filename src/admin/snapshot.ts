// The whole picture at one moment, for the dashboard's live stream and the status route:
// services, pools with their members, counts, the newest connections, the stick tables.

import type { ConnectionEntry } from '../runtime/connection-table.ts';
import { furiwakeVersion } from '../version.ts';
import type { ApiContext } from './host.ts';
import type { ConnectionView, Snapshot, StatusView } from './schemas.ts';
import { kernelStickSummaries, stickSummary } from './stick-tables.ts';
import { liveTraffic } from './traffic.ts';
import { connectionView, kernelConnectionView, poolView, serviceView, type ViewContext } from './views.ts';

/** Connections a snapshot carries: the dashboard shows the newest ones. */
const RECENT = 50;

export function viewContext(api: ApiContext, history = false): ViewContext {
  const runtime = api.host.runtime;
  return { runtime, rates: api.rates, live: liveTraffic(runtime, api.host.dataThreads ?? null), serviceAddress: (name) => api.serviceAddress(name), serviceDrops: (name) => api.serviceDrops(name), history };
}

export function status(api: ApiContext): StatusView {
  const runtime = api.host.runtime;
  const members = { total: 0, usable: 0, down: 0 };
  for (const pool of runtime.pools.values()) {
    for (const m of pool.members) {
      members.total++;
      if (m.usable) members.usable++;
      if (m.health === 'down') members.down++;
    }
  }
  return {
    version: furiwakeVersion(),
    pid: process.pid,
    startedAt: api.startedAt,
    uptime: Math.round((Date.now() - api.startedAt) / 1000),
    auth: api.access(),
    reload: api.host.load !== null,
    ha: api.host.ha?.status() != null,
    services: runtime.services.size,
    pools: runtime.pools.size,
    members,
    connections: runtime.connections.size + (api.host.dataThreads?.live().connections ?? 0),
  };
}

/** Built asynchronously: the connections and stick tables of nat and dsr services are read from the kernel. */
export async function snapshot(api: ApiContext, history: boolean): Promise<Snapshot> {
  const runtime = api.host.runtime;
  const kernel = runtime.kernel === null ? [] : await runtime.kernel.connections();
  const kernelTables = await kernelStickSummaries(runtime);
  const ctx = viewContext(api, history);
  const threads = (await api.host.dataThreads?.connections({ showQuery: false, take: RECENT, newest: true })) ?? [];
  // the newest of every kind; the kernel does not always know when a connection started: those go last
  const recent = [...newest(api), ...threads.flatMap((t) => t.items), ...kernel.map(kernelConnectionView)]
    .sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0))
    .slice(0, RECENT);
  return {
    at: Date.now(),
    status: status(api),
    services: [...runtime.services.values()].map((s) => serviceView(ctx, s)),
    pools: [...runtime.pools.values()].map((p) => poolView(ctx, p)),
    connections: { total: runtime.connections.size + threads.reduce((n, t) => n + t.total, 0) + kernel.length, recent },
    stickTables: [...api.stickTables().map(stickSummary), ...kernelTables],
  };
}

/** The newest connections, newest first, keeping only RECENT of them while walking the table. */
function newest(api: ApiContext): ConnectionView[] {
  return newestEntries(api.host.runtime.connections.list(), RECENT).map((e) => connectionView(e));
}

/** The last `n` of `entries` (a table's, oldest first), newest first, keeping only `n` while walking them. */
export function newestEntries(entries: Iterable<ConnectionEntry>, n: number): ConnectionEntry[] {
  const ring: ConnectionEntry[] = [];
  if (n <= 0) return ring;
  let i = 0;
  for (const entry of entries) {
    if (ring.length < n) ring.push(entry);
    else ring[i % n] = entry;
    i++;
  }
  // the ring's oldest slot is at i % n once it is full
  const start = ring.length < n ? 0 : i % n;
  return [...ring.slice(start), ...ring.slice(0, start)].reverse();
}

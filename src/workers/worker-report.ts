// What a worker thread tells the main thread when the admin plane reads the counters
// (workers-view.ts): what its counters grew by since its last report, and its live figures as
// they are now. Growth rather than totals, so that the main thread adds each report to its own
// members, pools and tables and every reader there (API, metrics, rates, dashboard) shows the
// sum without knowing of workers; a worker replaced, or a member a reload made anew, starts
// from 0 and is simply added from then on. Nothing here runs per connection: the worker reads
// the counters its data planes keep anyway, when asked.

import { liveTraffic } from '../admin/traffic.ts';
import type { Member } from '../runtime/member.ts';
import type { Pool } from '../runtime/pool.ts';
import type { RequestCount } from '../runtime/request-counts.ts';
import type { ResourceCounts } from '../runtime/resources.ts';
import type { RouteStats } from '../runtime/route-stats.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { Service } from '../runtime/service.ts';

/** The counters of ResourceCounts that add up over threads (the others are each thread's bounds and gauges). */
export const SUMMED_RESOURCES = ['descriptorsExhausted', 'flowsEvicted', 'clientCapRefused', 'overBudget', 'requestsOverBudget', 'proxyHeadersRefused', 'connectionsFailed', 'logLinesDropped'] as const;
export type SummedResource = (typeof SUMMED_RESOURCES)[number];

export interface MemberReport {
  pool: string;
  id: string;
  /** growth since the last report */
  total: number;
  failed: number;
  bytesIn: number;
  bytesOut: number;
  /** now: its connect-time average on this worker (0: none measured), and the bytes of its live connections */
  latency: number;
  liveIn: number;
  liveOut: number;
}

export interface WorkerReport {
  members: MemberReport[];
  /** per service: connections added since the last report; live ones now */
  services: { name: string; added: number; live: number }[];
  /** HTTP responses since the last report, by service, member and status class */
  requests: RequestCount[];
  /** per pool: queue timeouts since the last report; clients waiting now */
  pools: { name: string; queueTimeouts: number; queued: number }[];
  resources: Record<SummedResource, number>;
  /** per route: requests, 5xx answers and their time (ms), tcp connections, clients turned away, since the last report */
  routes: ({ service: string; route: string } & RouteCounts)[];
  /** per service: clients its access turned away since the last report */
  denied: { service: string; count: number }[];
  /** live http client connections by service and HTTP version, now */
  httpClients: { service: string; http1: number; http2: number }[];
  /** live connections in its table now */
  connections: number;
}

/** What a route counts (RouteStats), as numbers to send. */
interface RouteCounts {
  requests: number;
  errors: number;
  latencyMs: number;
  connections: number;
  denied: number;
}

interface Counted {
  total: number;
  failed: number;
  bytesIn: number;
  bytesOut: number;
}

/** One worker's reports: it remembers what it reported last, by object, to send the growth. */
export class Reporter {
  readonly #runtime: Runtime;
  #members = new Map<Member, Counted>();
  #pools = new Map<Pool, number>();
  /** RequestCounts keeps one object per key for good: it is the key here */
  readonly #requests = new Map<Readonly<RequestCount>, number>();
  readonly #services = new Map<string, number>();
  readonly #resources = zeroResources();
  /** each route's counts as last reported (RouteStats outlives a reload while its route keeps its name) */
  #routes = new Map<RouteStats, RouteCounts>();
  /** each service's denied count as last reported, by object (a service a reload made anew starts from 0) */
  #denied = new Map<Service, number>();

  constructor(runtime: Runtime) {
    this.#runtime = runtime;
  }

  report(): WorkerReport {
    const runtime = this.#runtime;
    const { bytes: live, services: liveServices, httpClients } = liveTraffic(runtime);

    const members: MemberReport[] = [];
    const pools: WorkerReport['pools'] = [];
    // members and pools a reload removed are dropped from what is remembered
    const seen = new Map<Member, Counted>();
    const seenPools = new Map<Pool, number>();
    for (const pool of runtime.pools.values()) {
      const timeouts = pool.queueTimeouts;
      pools.push({ name: pool.name, queueTimeouts: timeouts - (this.#pools.get(pool) ?? 0), queued: pool.queued });
      seenPools.set(pool, timeouts);
      for (const m of pool.members) {
        const was = this.#members.get(m);
        const now: Counted = { total: m.total, failed: m.failed, bytesIn: m.bytesIn, bytesOut: m.bytesOut };
        seen.set(m, now);
        const b = live.get(m);
        members.push({
          pool: pool.name, id: m.id,
          total: now.total - (was?.total ?? 0), failed: now.failed - (was?.failed ?? 0),
          bytesIn: now.bytesIn - (was?.bytesIn ?? 0), bytesOut: now.bytesOut - (was?.bytesOut ?? 0),
          latency: m.latency, liveIn: b?.in ?? 0, liveOut: b?.out ?? 0,
        });
      }
    }
    this.#members = seen;
    this.#pools = seenPools;

    const services: WorkerReport['services'] = [];
    for (const [name, total] of runtime.connections.totals()) {
      services.push({ name, added: total - (this.#services.get(name) ?? 0), live: liveServices.get(name) ?? 0 });
      this.#services.set(name, total);
    }

    const requests: RequestCount[] = [];
    for (const c of runtime.requests.list()) {
      const grown = c.count - (this.#requests.get(c) ?? 0);
      if (grown === 0) continue;
      requests.push({ ...c, count: grown });
      this.#requests.set(c, c.count);
    }

    const resources = zeroResources();
    for (const key of SUMMED_RESOURCES) {
      resources[key] = runtime.resources[key] - this.#resources[key];
      this.#resources[key] = runtime.resources[key];
    }
    const routes: WorkerReport['routes'] = [];
    const seenRoutes = new Map<RouteStats, RouteCounts>();
    const denied: WorkerReport['denied'] = [];
    const seenDenied = new Map<Service, number>();
    for (const service of runtime.services.values()) {
      const count = service.denied - (this.#denied.get(service) ?? 0);
      if (count !== 0) denied.push({ service: service.name, count });
      seenDenied.set(service, service.denied);
      for (const r of service.routes?.routes ?? []) {
        const s = r.stats;
        const was = this.#routes.get(s);
        seenRoutes.set(s, { requests: s.requests, errors: s.errors, latencyMs: s.latencyMs, connections: s.connections, denied: s.denied });
        if (s.requests === (was?.requests ?? 0) && s.connections === (was?.connections ?? 0) && s.denied === (was?.denied ?? 0)) continue;
        routes.push({
          service: service.name, route: r.name,
          requests: s.requests - (was?.requests ?? 0), errors: s.errors - (was?.errors ?? 0), latencyMs: s.latencyMs - (was?.latencyMs ?? 0),
          connections: s.connections - (was?.connections ?? 0), denied: s.denied - (was?.denied ?? 0),
        });
      }
    }
    this.#routes = seenRoutes;
    this.#denied = seenDenied;
    return {
      members, services, requests, pools, resources, routes, denied,
      httpClients: [...httpClients].map(([service, c]) => ({ service, http1: c.http1, http2: c.http2 })), connections: runtime.connections.size,
    };
  }
}

/** What a worker that has no config yet reports. */
export function emptyReport(): WorkerReport {
  return { members: [], services: [], requests: [], pools: [], resources: zeroResources(), routes: [], denied: [], httpClients: [], connections: 0 };
}

function zeroResources(): Record<SummedResource, number> {
  return { descriptorsExhausted: 0, flowsEvicted: 0, clientCapRefused: 0, overBudget: 0, requestsOverBudget: 0, proxyHeadersRefused: 0, connectionsFailed: 0, logLinesDropped: 0 };
}

/** Adds a worker's growth to the main thread's runtime: its members, pools, tables and counts. */
export function addReport(runtime: Runtime, report: WorkerReport): void {
  for (const r of report.members) {
    // a member a reload removed meanwhile: its counts go with it
    const m = runtime.member(r.pool, r.id);
    if (m === undefined) continue;
    m.total += r.total;
    m.failed += r.failed;
    m.bytesIn += r.bytesIn;
    m.bytesOut += r.bytesOut;
  }
  for (const s of report.services) if (s.added !== 0) runtime.connections.counted(s.name, s.added);
  for (const c of report.requests) runtime.requests.add(c, c.count);
  for (const p of report.pools) {
    const pool = runtime.pools.get(p.name);
    if (pool !== undefined) pool.queueTimeouts += p.queueTimeouts;
  }
  const resources: ResourceCounts = runtime.resources;
  for (const key of SUMMED_RESOURCES) resources[key] += report.resources[key];
  for (const r of report.routes) {
    // a route a reload removed or renamed meanwhile: its counts go with it
    const stats = runtime.services.get(r.service)?.routes?.routes.find((live) => live.name === r.route)?.stats;
    if (stats === undefined) continue;
    stats.requests += r.requests;
    stats.errors += r.errors;
    stats.latencyMs += r.latencyMs;
    stats.connections += r.connections;
    stats.denied += r.denied;
  }
  for (const d of report.denied) {
    const service = runtime.services.get(d.service);
    if (service !== undefined) service.denied += d.count;
  }
}

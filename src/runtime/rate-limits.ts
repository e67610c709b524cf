// The rate limits of one service, live: a table of token buckets (shared-rate-table.ts) for its
// requests, one for its new connections, and one per route with a rate-limit of its own. Built per
// config; a reload keeps each table whose limit did not change (its buckets go on), and starts a new
// one for a limit that did. With worker threads the main thread makes the tables and sends their
// buffers (tables()); each worker's service takes them (share()), so a limit holds for the process.

import type { RateLimitConfig } from '../config/rate-limit-types.ts';
import type { ServiceConfig } from '../config/types.ts';
import { rateTableBuffer, SharedRateTable } from './shared-rate-table.ts';

/** One limit: its settings and its table. */
export interface RateLimit {
  readonly config: RateLimitConfig;
  /** what the table counts: requests (of the service, or of a route), or connections */
  readonly kind: 'requests' | 'connections';
  /** null: the service's own; else the route's name */
  readonly route: string | null;
  table: SharedRateTable;
}

export class RateLimits {
  /** the service's requests; null: not limited */
  readonly requests: RateLimit | null;
  /** the service's new connections; null: not limited */
  readonly connections: RateLimit | null;
  /** by route name, the routes with a rate-limit of their own */
  readonly routes: ReadonlyMap<string, RateLimit>;

  constructor(config: ServiceConfig, previous: RateLimits | null) {
    const own = config.rateLimit ?? null;
    const was = previous?.all() ?? [];
    this.requests = own !== null && own.requests > 0 ? limit(own, 'requests', null, was) : null;
    this.connections = own !== null && own.connectionRate > 0 ? limit(own, 'connections', null, was) : null;
    const routes = new Map<string, RateLimit>();
    for (const r of config.http?.routes ?? []) {
      if (r.rateLimit != null && r.rateLimit.requests > 0) routes.set(r.name, limit(r.rateLimit, 'requests', r.name, was));
    }
    this.routes = routes;
  }

  /** A service's limits, or null when it has none. */
  static of(config: ServiceConfig, previous: RateLimits | null): RateLimits | null {
    const limits = new RateLimits(config, previous);
    return limits.requests === null && limits.connections === null && limits.routes.size === 0 ? null : limits;
  }

  /** Every limit: the service's, then its routes'. */
  all(): RateLimit[] {
    const out: RateLimit[] = [];
    if (this.requests !== null) out.push(this.requests);
    if (this.connections !== null) out.push(this.connections);
    out.push(...this.routes.values());
    return out;
  }

  /** The tables' buffers by id, for the workers (the main thread's). */
  tables(): [string, SharedArrayBuffer][] {
    return this.all().map((l) => [idOf(l), l.table.buffer]);
  }

  /** A worker's side: counts in the tables the main thread made (by id), as worker `index`. */
  share(tables: ReadonlyMap<string, SharedArrayBuffer>, index: number): void {
    for (const l of this.all()) {
      const buffer = tables.get(idOf(l));
      if (buffer !== undefined && l.table.buffer !== buffer) l.table = new SharedRateTable(buffer, index);
    }
  }
}

/** A limit's place and settings: a table is kept across a reload only when these stay the same. */
function idOf(l: { config: RateLimitConfig; kind: string; route: string | null }): string {
  const c = l.config;
  const rate = l.kind === 'requests' ? `${c.requests}/${c.burst}` : `${c.connectionRate}/${c.connectionBurst}`;
  const by = c.by.kind === 'header' ? `header ${c.by.name}` : 'client';
  return `${l.route === null ? '' : `route ${l.route} `}${l.kind} ${rate} ${by} ${c.ipv4Mask}/${c.ipv6Mask} ${c.tableSize}`;
}

function limit(config: RateLimitConfig, kind: RateLimit['kind'], route: string | null, previous: readonly RateLimit[]): RateLimit {
  const id = idOf({ config, kind, route });
  const kept = previous.find((l) => idOf(l) === id);
  if (kept !== undefined) return { config, kind, route, table: kept.table };
  const [rate, burst] = kind === 'requests' ? [config.requests, config.burst] : [config.connectionRate, config.connectionBurst];
  return { config, kind, route, table: new SharedRateTable(rateTableBuffer(config.tableSize, rate, burst)) };
}

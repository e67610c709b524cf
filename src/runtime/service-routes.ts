// The routes of one http or tcp service, live: the compiled table (routing/) and, per route, its
// action with what it needs at hand — a pool action's dispatcher (runtime/dispatch.ts: the one
// rule for choosing a member, with the service's persistence on that pool), its compiled access
// list — and its counters. Built per config; a reload builds it anew, keeping each route's
// counters by name and each pool's persistence (so its stick table) while its settings stay the same.

import type { RouteConfig } from '../config/routes-types.ts';
import { type AccessList, accessList } from '../routing/access-list.ts';
import { RouteTable, type RoutedRequest } from '../routing/route-table.ts';
import type { Dispatcher } from './dispatch.ts';
import type { Pool } from './pool.ts';
import { RouteStats } from './route-stats.ts';

export interface LiveRoute {
  readonly name: string;
  readonly config: RouteConfig;
  /** pool actions: how a member of the route's pool is chosen; null for the other actions */
  readonly dispatcher: Dispatcher | null;
  /** who may use the route once it matches; null: everyone */
  readonly access: AccessList | null;
  readonly stats: RouteStats;
}

/** What a tcp connection shows a route: no HTTP request (tcp routes ask only sni and client-network). */
const CONNECTION: RoutedRequest = { host: null, target: '/', method: '', fields: '' };

export class ServiceRoutes {
  readonly routes: readonly LiveRoute[];
  /** some route asks for the TLS server name (a tcp service then reads the ClientHello) */
  readonly readsSni: boolean;
  readonly #table: RouteTable;

  /** `dispatcherOf(pool, route)`: the service's dispatcher for a pool (one per pool, shared by its routes), or the route's own (its own persistence). */
  constructor(configs: readonly RouteConfig[], pools: (name: string) => Pool, dispatcherOf: (pool: Pool, route: RouteConfig) => Dispatcher, previous: ServiceRoutes | null) {
    const stats = new Map<string, RouteStats>();
    for (const r of previous?.routes ?? []) stats.set(r.name, r.stats);
    this.routes = configs.map((config): LiveRoute => ({
      name: config.name,
      config,
      dispatcher: config.action.kind === 'pool' ? dispatcherOf(pools(config.action.pool), config) : null,
      access: accessList(config.access),
      stats: stats.get(config.name) ?? new RouteStats(),
    }));
    this.readsSni = configs.some((r) => r.match.sni.length > 0 || r.match.sniRegex !== null);
    this.#table = new RouteTable(configs);
  }

  /** The route that takes `req` from `client` (over TLS naming `sni`); null: the service's pool. */
  route(req: RoutedRequest, client: string, sni: string | null): LiveRoute | null {
    const i = this.#table.match(req, client, sni);
    return i === -1 ? null : this.routes[i];
  }

  /** tcp: the route that takes a connection from `client` that named `sni` (null: none, or not TLS). */
  routeConnection(client: string, sni: string | null): LiveRoute | null {
    return this.route(CONNECTION, client, sni);
  }
}

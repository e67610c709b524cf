// A virtual service: the address clients reach (the VIP), its forwarding mode, and the pool
// behind it. The data plane that listens for it reads `config` and `pool` per connection, so
// a reload that swaps them applies to new connections without touching live ones. An http
// service's routes (service-routes.ts) may send requests to other pools: each pool it reaches has
// its own dispatcher, with the service's persistence on that pool; a route with its own
// persistence has a dispatcher of its own.

import { sameListener } from '../config/diff.ts';
import type { RouteConfig } from '../config/routes-types.ts';
import type { ServiceConfig } from '../config/types.ts';
import { routesOf } from '../config/routes-types.ts';
import type { StickTable } from '../persistence/stick-table.ts';
import { type AccessList, accessList } from '../routing/access-list.ts';
import { Dispatcher } from './dispatch.ts';
import { onMemberDownFor } from './member-down.ts';
import { ServicePersistence } from './persistence.ts';
import type { Pool } from './pool.ts';
import { RateLimits } from './rate-limits.ts';
import { ServiceRoutes } from './service-routes.ts';
import type { SharedClientTable } from './shared-client-table.ts';

export class Service {
  readonly name: string;
  config: ServiceConfig;
  pool: Pool;
  /** how clients stick to members; null without `persistence` */
  persistence: ServicePersistence | null;
  /** the rule choosing a member for this pool, persistence and retries (runtime/dispatch.ts) */
  dispatcher: Dispatcher;
  /** an http or tcp service's routes; null without any */
  routes: ServiceRoutes | null = null;
  /** the compiled `access` (who may use the service); null: everyone */
  access: AccessList | null;
  /** clients turned away by `access` (connections, datagrams or requests); kept across reloads */
  denied = 0;
  /** the dispatchers of the other pools its routes reach, by pool name */
  #routeDispatchers = new Map<string, Dispatcher>();
  /** worker threads: the process's counts per client address (max-connections-per-client); null in one loop */
  clientTable: SharedClientTable | null = null;
  /** requests and new connections per client (rate-limit, of the service and its routes); null without any */
  rateLimits: RateLimits | null = null;
  /** the clock its stick tables expire by; undefined: performance.now */
  readonly #stickClock: (() => number) | undefined;

  /**
   * `previous`: the persistence of the service this one replaces, kept when still the same;
   * `pools`: the runtime's pools, where routes find theirs; `stickClock`: see Runtime.
   */
  constructor(name: string, config: ServiceConfig, pool: Pool, previous: ServicePersistence | null = null, pools: ReadonlyMap<string, Pool> | null = null, stickClock?: () => number) {
    this.name = name;
    this.config = config;
    this.pool = pool;
    this.#stickClock = stickClock;
    this.persistence = persistenceFor(name, config, pool, previous, stickClock);
    this.dispatcher = dispatcherFor(config, pool, this.persistence);
    this.access = accessList(config.access);
    this.#route(pools);
    this.rateLimits = RateLimits.of(config, null);
  }

  /** The stick table of a stateful persistence (source-ip, tls-session); null otherwise. */
  get stickTable(): StickTable | null {
    return this.persistence?.table ?? null;
  }

  /**
   * A reload: new connections see the new config and pool. The persistence (and its stick
   * table) stays when its settings and pool did not change, so clients stay where they were.
   */
  reconfigure(config: ServiceConfig, pool: Pool, pools: ReadonlyMap<string, Pool> | null = null): void {
    this.config = config;
    this.pool = pool;
    this.persistence = persistenceFor(this.name, config, pool, this.persistence, this.#stickClock);
    this.dispatcher = dispatcherFor(config, pool, this.persistence);
    this.access = accessList(config.access);
    this.#route(pools);
    this.rateLimits = RateLimits.of(config, this.rateLimits);
  }

  /** Builds the routes of the config (none: null), with a dispatcher per pool they reach. */
  #route(pools: ReadonlyMap<string, Pool> | null): void {
    const configs = routesOf(this.config);
    const before = this.#routeDispatchers;
    const now = new Map<string, Dispatcher>();
    this.#routeDispatchers = now;
    if (configs.length === 0) {
      this.routes = null;
      return;
    }
    const poolOf = (name: string): Pool => {
      const found = name === this.pool.name ? this.pool : pools?.get(name);
      if (found === undefined) throw new Error(`service ${this.name}: a route names pool ${name}, which does not exist`);
      return found;
    };
    const dispatcherOf = (pool: Pool, route: RouteConfig): Dispatcher => {
      // a route with its own persistence has its own dispatcher (a route name cannot hold "/", a pool name neither)
      const own = route.persistence ?? null;
      if (own !== null) {
        const key = `/${route.name}`;
        const previous = before.get(key)?.persistence ?? null;
        const persistence = previous !== null && previous.sameAs(pool.name, own) ? previous : new ServicePersistence(`${this.name}/${route.name}`, pool.name, own, this.#stickClock);
        const d = dispatcherFor(this.config, pool, persistence);
        now.set(key, d);
        return d;
      }
      if (pool === this.pool) return this.dispatcher;
      let d = now.get(pool.name);
      if (d === undefined) {
        const persistence = persistenceFor(this.name, this.config, pool, before.get(pool.name)?.persistence ?? null, this.#stickClock);
        now.set(pool.name, (d = dispatcherFor(this.config, pool, persistence)));
      }
      return d;
    };
    this.routes = new ServiceRoutes(configs, poolOf, dispatcherOf, this.routes);
  }

  /** The listener must be replaced (not just re-pointed) when its address or kind changes. */
  sameListener(next: ServiceConfig): boolean {
    return sameListener(this.config, next);
  }
}

function dispatcherFor(config: ServiceConfig, pool: Pool, persistence: ServicePersistence | null): Dispatcher {
  return new Dispatcher(pool, persistence, config.retries, onMemberDownFor(config.mode, pool.config.onMemberDown));
}

function persistenceFor(name: string, config: ServiceConfig, pool: Pool, previous: ServicePersistence | null, stickClock: (() => number) | undefined): ServicePersistence | null {
  const wanted = config.persistence;
  if (wanted === null) return null;
  if (previous !== null && previous.sameAs(pool.name, wanted)) return previous;
  return new ServicePersistence(name, pool.name, wanted, stickClock);
}

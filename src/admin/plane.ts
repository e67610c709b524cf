// The management plane of one furiwake: the admin server on `admin.listen`, and what it owns —
// the rate estimator's tick, the metrics' health hook, the dashboards' event streams. apply()
// follows the config: it starts the plane, re-binds it only when its address changed, takes a
// new token at once, and stops the plane when the section is removed.

import { formatAddress } from '../config/address.ts';
import { adminWarnings, isLoopback } from '../config/admin-schema.ts';
import type { AdminConfig } from '../config/admin-types.ts';
import type { Endpoint } from '../runtime/connection-table.ts';
import type { MemberChange } from '../runtime/events.ts';
import type { Member } from '../runtime/member.ts';
import { connectionRoutes } from './api-connections.ts';
import { rateLimitRoutes } from './api-rate-limits.ts';
import { haRoutes } from './api-ha.ts';
import { poolRoutes } from './api-pools.ts';
import { systemRoutes } from './api-system.ts';
import { demandToken, TokenCheck } from './auth.ts';
import { EventStream, format } from './event-stream.ts';
import type { AdminHost, ApiContext } from './host.ts';
import { AdminMetrics } from './metrics.ts';
import { openApiDocument } from './openapi.ts';
import { RateEstimator } from './rates.ts';
import { hideReasonOutput, Scrubber, secretsOf } from './redact.ts';
import { Refusals } from './refusals.ts';
import type { Route } from './router.ts';
import { AdminServer } from './server.ts';
import { snapshot } from './snapshot.ts';
import { stickTablesOf } from './stick-tables.ts';
import { memberState } from './views.ts';

interface Running {
  rates: RateEstimator;
  metrics: AdminMetrics;
  events: EventStream;
  routes: Route[];
  refusals: Refusals;
}

export class AdminPlane {
  readonly #host: AdminHost;
  #config: AdminConfig | null = null;
  #check = new TokenCheck(null);
  #server: AdminServer | null = null;
  #running: Running | null = null;
  readonly #startedAt = Date.now();
  /** the secrets of the config it was made from: made again when the config changes */
  #scrubber: { of: unknown; scrubber: Scrubber } = { of: undefined, scrubber: new Scrubber([]) };

  constructor(host: AdminHost) {
    this.#host = host;
  }

  /** The bound address; null when the plane is not running. */
  address(): Endpoint | null {
    return this.#server?.address() ?? null;
  }

  /** Follows the `admin` section of a (new) config; returns what could not be done, one line each. */
  async apply(config: AdminConfig | undefined): Promise<string[]> {
    if (config === undefined) {
      await this.close();
      return [];
    }
    // the config schema refuses this; a Config built in code is checked again, as it costs nothing
    if (config.token === null && !isLoopback(config.listen)) {
      return [`admin: ${formatAddress(config.listen)} is reachable from other hosts; it needs a token`];
    }
    const previous = this.#config;
    this.#config = config;
    this.#check = new TokenCheck(config.token);
    if (this.#server !== null && previous !== null && sameAddress(previous, config)) return [];

    const running = (this.#running ??= this.#start());
    const server = new AdminServer({
      routes: running.routes,
      metrics: running.metrics,
      log: this.#host.log,
      auth: () => ({ check: this.#check, readTokenRequired: this.#config?.readTokenRequired === true }),
      loopback: isLoopback(config.listen),
      maxConnections: config.maxConnections,
      maxConnectionsPerClient: config.maxConnectionsPerClient,
      refusals: running.refusals,
      scrub: this.#scrub,
    });
    const { listen } = config;
    try {
      await server.listen(listen.ip ?? listen.host, listen.port);
    } catch (err) {
      if (this.#server === null) await this.close();
      else this.#config = previous; // keep serving where it was
      return [`admin: cannot listen on ${formatAddress(listen)}: ${(err as Error).message}`];
    }
    const old = this.#server;
    this.#server = server;
    const { address, port } = server.address();
    this.#host.log.info({ address, port, token: config.token !== null, readTokenRequired: config.readTokenRequired }, 'admin listening');
    for (const warning of adminWarnings(config)) this.#host.log.warn(warning);
    await old?.close();
    return [];
  }

  /** Stops the server (requests in flight get a moment), the streams, the tick and the hook. */
  async close(): Promise<void> {
    const running = this.#running;
    this.#running = null;
    this.#config = null;
    if (running !== null) {
      running.rates.close();
      running.metrics.close();
      running.events.close();
      this.#host.runtime.events.off('member', this.#onMember);
    }
    const server = this.#server;
    this.#server = null;
    await server?.close();
  }

  #start(): Running {
    const host = this.#host;
    const events = new EventStream(this.#scrub);
    let building = false;
    const broadcast = (): void => {
      // a snapshot still being read from the kernel when the next second comes: skip this one
      if (events.clients === 0 || building) return;
      building = true;
      snapshot(api, false).then(
        (s) => events.send(format('snapshot', s)),
        (err: Error) => host.log.warn({ reason: err.message }, 'admin: cannot build the dashboard snapshot'),
      ).finally(() => (building = false));
    };
    const api: ApiContext = {
      host,
      rates: new RateEstimator(host.runtime, broadcast, () => host.dataThreads ?? null),
      startedAt: this.#startedAt,
      stickTables: () => [...(host.stickTables ?? stickTablesOf)(host.runtime)],
      access: () => ({
        reads: this.#check.required && this.#config?.readTokenRequired === true ? 'token' : 'open',
        writes: this.#check.required ? 'token' : 'open',
      }),
      serviceAddress: (name) => host.listener(name)?.address() ?? null,
      serviceDrops: (name) => host.listener(name)?.drops ?? null,
      requireToken: (req, what) => demandToken(this.#check, req.headers.authorization, what),
    };
    const routes: Route[] = [];
    routes.push(...[...poolRoutes(api), ...connectionRoutes(api), ...rateLimitRoutes(api), ...haRoutes(api), ...systemRoutes(api, events, () => openApiDocument(routes))].map((r) => fresh(host, r)));
    const refusals = new Refusals(host.log);
    const running: Running = { rates: api.rates, metrics: new AdminMetrics(host, api.stickTables, refusals), events, routes, refusals };
    api.rates.start();
    host.runtime.events.on('member', this.#onMember);
    return running;
  }

  #onMember = (member: Member, change: MemberChange): void => {
    const events = this.#running?.events;
    if (events === undefined || events.clients === 0) return;
    const shown = change.kind === 'health' ? { ...change, reason: hideReasonOutput(change.reason) } : change;
    events.send(format('member', { change: shown, member: memberState(member) }));
  };

  #scrub = (text: string): string => {
    const config = this.#host.runtime.config;
    if (this.#scrubber.of !== config) this.#scrubber = { of: config, scrubber: new Scrubber(secretsOf(config)) };
    return this.#scrubber.scrubber.scrub(text);
  };
}

/**
 * With worker threads, a route answers from their counters of now: each call brings them in
 * first (one message to each worker, workers-view.ts). One loop: the runtime has them already.
 */
function fresh(host: AdminHost, r: Route): Route {
  const handle = r.handle;
  return {
    ...r,
    handle: (call) => {
      const threads = host.dataThreads;
      return threads == null ? handle(call) : threads.refresh().then(() => handle(call));
    },
  };
}

function sameAddress(a: AdminConfig, b: AdminConfig): boolean {
  return a.listen.port === b.listen.port && (a.listen.ip ?? a.listen.host) === (b.listen.ip ?? b.listen.host);
}

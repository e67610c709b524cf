// /metrics in the Prometheus text format (prom-client). Counters and gauges are read from the
// runtime when scraped, so the data path pays nothing for them; health check results and
// durations are observed as they happen, through the health manager's events. The registry is
// this plane's own; process metrics come from one process-wide registry, since there is one
// process however many planes (tests start many).

import { CONNTRACK_METRICS } from '../ha/conntrack-metrics.ts';
import type { SyncPeerStatus } from '../ha/status.ts';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Member } from '../runtime/member.ts';
import { LOOP_DELAY_RESOLUTION } from './threads.ts';
import type { RateLimit } from '../runtime/rate-limits.ts';
import { rateLimitsOf } from './api-rate-limits.ts';
import type { RouteStats } from '../runtime/route-stats.ts';
import type { CheckView } from '../runtime/events.ts';
import { furiwakeVersion } from '../version.ts';
import { logOutputs } from '../log.ts';
import { HA_ROLES } from '../ha/vrrp-role.ts';
import type { AdminHost } from './host.ts';
import { REFUSAL_REASONS, type Refusals } from './refusals.ts';
import { MEMBER_STATUSES } from './schemas.ts';
import type { StickTableSource } from './stick-tables.ts';
import { liveTraffic, memberBytes, type LiveTraffic } from './traffic.ts';
import { memberStatus } from './views.ts';

type Labels = Record<string, string>;
type Sample = [Labels, number];

/** Check durations (s): from a local TCP connect to a slow HTTP health page. */
const CHECK_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const NO_DELAYS: ReadonlyMap<number, number> = new Map();

let processRegistry: Registry | null = null;

function processMetrics(): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    cpuSinceStart(processRegistry);
  }
  return processRegistry;
}

/**
 * prom-client counts CPU time from when its metrics were made (here the first scrape); a
 * counter's value must be the whole process's, as process.cpuUsage() is, since start.
 */
function cpuSinceStart(registry: Registry): void {
  const cpu: [string, string, (u: NodeJS.CpuUsage) => number][] = [
    ['process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', (u) => u.user],
    ['process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', (u) => u.system],
    ['process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (u) => u.user + u.system],
  ];
  for (const [name, help, read] of cpu) {
    registry.removeSingleMetric(name);
    new Counter({ name, help, registers: [registry], collect() {
      this.reset();
      this.inc(read(process.cpuUsage()) / 1e6);
    } });
  }
}

export class AdminMetrics {
  readonly #registry = new Registry();
  readonly #host: AdminHost;
  readonly #stickTables: () => StickTableSource[];
  readonly #checks: Counter<'pool' | 'member' | 'monitor' | 'result'>;
  readonly #checkDuration: Histogram<'pool' | 'member' | 'monitor'>;
  /** the label sets observed per member, so that a member removed by a reload disappears */
  readonly #observed = new Map<Member, Set<string>>();
  /** the longest each worker's loop was late since the previous scrape, by worker index */
  #loopDelays: ReadonlyMap<number, number> = NO_DELAYS;
  /** what one scrape reads, computed once at its start */
  #live: LiveTraffic = { bytes: new Map(), services: new Map(), httpClients: new Map(), queued: new Map(), threads: 0 };

  readonly #refusals: Refusals | null;

  constructor(host: AdminHost, stickTables: () => StickTableSource[], refusals: Refusals | null = null) {
    this.#host = host;
    this.#stickTables = stickTables;
    this.#refusals = refusals;
    const registers = [this.#registry];
    this.#checks = new Counter({
      name: 'furiwake_health_checks_total', help: 'Health checks run, by monitor and result (pass, fail, timeout).',
      labelNames: ['pool', 'member', 'monitor', 'result'], registers,
    });
    this.#checkDuration = new Histogram({
      name: 'furiwake_health_check_duration_seconds', help: 'How long health checks took.',
      labelNames: ['pool', 'member', 'monitor'], buckets: CHECK_BUCKETS, registers,
    });
    this.#define();
    host.health.events.on('check', this.#observe);
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  async text(): Promise<string> {
    // with worker threads: their counters of now, added to the runtime's (workers-view.ts)
    const threads = this.#host.dataThreads ?? null;
    await threads?.refresh();
    this.#live = liveTraffic(this.#host.runtime, threads);
    this.#loopDelays = threads?.takeLoopDelays() ?? NO_DELAYS;
    this.#forgetRemoved();
    return (await this.#registry.metrics()) + (await processMetrics().metrics());
  }

  close(): void {
    this.#host.health.events.off('check', this.#observe);
  }

  #observe = (member: Member, monitor: number, view: CheckView): void => {
    const labels = { pool: member.poolName, member: member.id, monitor: monitorLabel(member.checks, monitor, view.type) };
    const result = view.up ? 'pass' : view.reason.startsWith('timeout after') ? 'timeout' : 'fail';
    this.#checks.inc({ ...labels, result });
    this.#checkDuration.observe(labels, view.latency / 1000);
    let seen = this.#observed.get(member);
    if (seen === undefined) this.#observed.set(member, (seen = new Set()));
    seen.add(labels.monitor);
  };

  #forgetRemoved(): void {
    const runtime = this.#host.runtime;
    for (const [member, monitors] of this.#observed) {
      if (runtime.pools.get(member.poolName)?.members.includes(member) === true) continue;
      for (const monitor of monitors) {
        const labels = { pool: member.poolName, member: member.id, monitor };
        this.#checkDuration.remove(labels);
        for (const result of ['pass', 'fail', 'timeout']) this.#checks.remove({ ...labels, result });
      }
      this.#observed.delete(member);
    }
  }

  #define(): void {
    const host = this.#host;
    const runtime = host.runtime;
    const members = function* (): Generator<Member> {
      for (const pool of runtime.pools.values()) yield* pool.members;
    };
    const perMember = (read: (m: Member) => number) => function* (): Generator<Sample> {
      for (const m of members()) yield [{ pool: m.poolName, member: m.id }, read(m)];
    };
    const m = ['pool', 'member'];

    this.#collected('gauge', 'furiwake_build_info', 'Always 1; the version is a label.', ['version'], function* () {
      yield [{ version: furiwakeVersion() }, 1];
    });
    // the worker threads' event loops (the main thread's is prom-client's nodejs_eventloop_lag_*)
    this.#collected('gauge', 'furiwake_worker_event_loop_delay_max_seconds',
      `The longest a worker thread's event loop was late since the previous scrape (a timer due every ${LOOP_DELAY_RESOLUTION} ms, and how late it fired), by worker.`,
      ['worker'], () => [...this.#loopDelays].map(([index, late]): Sample => [{ worker: String(index) }, late]));
    const refusals = this.#refusals;
    if (refusals !== null) {
      this.#collected('counter', 'furiwake_admin_connections_refused_total',
        'Admin connections closed by the listener: new ones at max-connections (limit) or max-connections-per-client (client-limit), idle ones closed to make room (evicted), slow ones past a request deadline (timeout).',
        ['reason'], () => REFUSAL_REASONS.map((reason): Sample => [{ reason }, refusals.counts[reason]]));
    }

    // services
    this.#collected('gauge', 'furiwake_service_connections_active', 'Open connections (udp: flows) of a service, including those queued or connecting.', ['service'], () =>
      [...runtime.services.keys()].map((s): Sample => [{ service: s }, this.#live.services.get(s) ?? 0]));
    this.#collected('counter', 'furiwake_service_connections_total', 'Connections (udp: flows) a service has accepted.', ['service'], () =>
      [...runtime.connections.totals()].filter(([s]) => runtime.services.has(s)).map(([s, n]): Sample => [{ service: s }, n]));
    this.#collected('counter', 'furiwake_http_requests_total', 'HTTP responses sent, by status class (code="2xx"); member is empty when furiwake answered itself.',
      ['service', 'pool', 'member', 'code'], () =>
        [...runtime.requests.list()].map((c): Sample => [{ service: c.service, pool: c.pool ?? '', member: c.member ?? '', code: c.status }, c.count]));
    this.#collected('counter', 'furiwake_http_requests_by_protocol_total',
      'HTTP responses sent, by the HTTP version the client spoke (protocol="HTTP/1.0", "HTTP/1.1", "HTTP/2") and how the member was spoken to (member_protocol="http1", "h2", "h2c"; empty when furiwake answered itself).',
      ['service', 'protocol', 'member_protocol'], function* () {
        for (const s of runtime.services.values()) {
          if (s.config.mode !== 'http') continue;
          for (const c of runtime.requests.byProtocol(s.name)) yield [{ service: s.name, protocol: c.protocol, member_protocol: c.memberProtocol }, c.count];
        }
      });
    this.#collected('gauge', 'furiwake_http_client_connections_active', 'Open client connections of an http service by the HTTP version they speak (protocol="HTTP/1.1" for HTTP/1.0 and 1.1, "HTTP/2").', ['service', 'protocol'], () =>
      [...runtime.services.values()].filter((s) => s.config.mode === 'http').flatMap((s): Sample[] => {
        const c = this.#live.httpClients.get(s.name);
        return [[{ service: s.name, protocol: 'HTTP/1.1' }, c?.http1 ?? 0], [{ service: s.name, protocol: 'HTTP/2' }, c?.http2 ?? 0]];
      }));

    // http routes: what each took, its 5xx, its time (mean = rate of seconds / rate of requests)
    const routes = function* (read: (stats: RouteStats) => number): Generator<Sample> {
      for (const s of runtime.services.values()) for (const r of s.routes?.routes ?? []) yield [{ service: s.name, route: r.name }, read(r.stats)];
    };
    this.#collected('counter', 'furiwake_route_requests_total', 'Requests an http route took, answered by a member or by the route itself (redirect, respond, deny).', ['service', 'route'], () => routes((r) => r.requests));
    this.#collected('counter', 'furiwake_route_errors_total', 'Requests of an http route answered with a 5xx (the member\'s, or furiwake\'s own 502, 503, 504).', ['service', 'route'], () => routes((r) => r.errors));
    this.#collected('counter', 'furiwake_route_request_seconds_total', "Seconds an http route's requests took together, from the request head to the end of the response.", ['service', 'route'], () => routes((r) => r.latencyMs / 1000));
    this.#collected('counter', 'furiwake_route_connections_total', 'Connections a tcp route took (sent to its pool or refused).', ['service', 'route'], () => routes((r) => r.connections));
    this.#collected('counter', 'furiwake_route_denied_total', 'Requests (tcp: connections) a route turned away: its deny action, or a client its access does not allow.', ['service', 'route'], () => routes((r) => r.denied));
    this.#collected('counter', 'furiwake_service_denied_total', "Clients a service's access turned away: tcp connections closed at accept, udp datagrams dropped, http requests answered 403.", ['service'], () =>
      [...runtime.services.values()].map((s): Sample => [{ service: s.name }, s.denied]));

    // rate limits: the process's counts (the tables are shared with the worker threads)
    const rates = function* (read: (l: RateLimit) => number): Generator<Sample> {
      for (const [service, l] of rateLimitsOf(runtime)) yield [{ service, route: l.route ?? '', limit: l.kind }, read(l)];
    };
    this.#collected('counter', 'furiwake_rate_limit_passed_total', "Requests (limit=\"requests\") or new connections (limit=\"connections\") a rate limit let through; route is empty for the service's own limit.", ['service', 'route', 'limit'], () => rates((l) => l.table.counters.passed));
    this.#collected('counter', 'furiwake_rate_limit_refused_total', 'Requests a rate limit answered with 429, or new connections it closed at accept.', ['service', 'route', 'limit'], () => rates((l) => l.table.counters.refused));
    this.#collected('gauge', 'furiwake_rate_limit_keys', 'Client addresses or header values a rate limit holds a bucket for now (at most its table-size).', ['service', 'route', 'limit'], () => rates((l) => l.table.used));

    // what floods cost: never a member's failure
    const resources = runtime.resources;
    this.#collected('counter', 'furiwake_descriptors_exhausted_total', 'Accepts and udp flow sockets that failed because file descriptors ran out (EMFILE, ENFILE).', [], () => [[{}, resources.descriptorsExhausted]]);
    this.#collected('counter', 'furiwake_udp_flows_evicted_total', 'udp flows closed to let a new client in (the flow table was full).', [], () => [[{}, resources.flowsEvicted]]);
    this.#collected('counter', 'furiwake_udp_datagrams_dropped_total',
      'Datagrams a udp service dropped: from clients not well-formed for balance-per (malformed), with no usable member (no-member) or not allowed by its access (denied), from members answering nothing the client sent (unmatched).',
      ['service', 'reason'], function* () {
        for (const s of runtime.services.keys()) {
          const drops = host.listener(s)?.drops;
          if (drops === undefined) continue;
          yield [{ service: s, reason: 'malformed' }, drops.malformed];
          yield [{ service: s, reason: 'unmatched' }, drops.unmatched];
          yield [{ service: s, reason: 'no-member' }, drops.noMember];
          yield [{ service: s, reason: 'denied' }, drops.denied];
        }
      });
    this.#collected('counter', 'furiwake_connections_over_budget_total', 'tcp and http connections closed at accept because the file descriptor budget had no room for them.', [], () => [[{}, resources.overBudget]]);
    this.#collected('counter', 'furiwake_requests_over_budget_total', 'Requests refused (HTTP/2: stream reset with REFUSED_STREAM; else 503) because the file descriptor budget had no room for the member connection they needed (requests of HTTP/2 clients to HTTP/1.1 members: each holds a connection of its own).', [], () => [[{}, resources.requestsOverBudget]]);
    this.#collected('counter', 'furiwake_proxy_headers_refused_total', 'Clients whose PROXY header was malformed, missing or late (accept-proxy): closed before anything reached a member.', [], () => [[{}, resources.proxyHeadersRefused]]);
    this.#collected('counter', 'furiwake_connections_failed_total', 'Connections ended because an unexpected error escaped their handling (logged with its stack); the process goes on.', [], () => [[{}, resources.connectionsFailed]]);
    this.#collected('counter', 'furiwake_http2_connections_refused_total', 'HTTP/2 client connections closed for breaking a protocol bound (rapid-reset, continuation-flood, control-frame-flood, ...), by service and reason.',
      ['service', 'reason'], function* () {
        for (const [service, byReason] of resources.http2Refusals) for (const [reason, n] of byReason) yield [{ service, reason }, n];
      });
    this.#collected('counter', 'furiwake_log_lines_dropped_total', 'Log lines lost because their file or syslog server could not take them (buffer full, write failed, server unreachable): logs are dropped, traffic is not.', [], () =>
      [[{}, resources.logLinesDropped + logOutputs(host.log).dropped]]);
    this.#collected('counter', 'furiwake_client_cap_refused_total', 'Connections closed at accept because their client address was at max-connections-per-client.', [], () => [[{}, resources.clientCapRefused]]);

    // pools
    this.#collected('gauge', 'furiwake_pool_queue_length', 'Connections waiting for a member with room.', ['pool'], () =>
      [...runtime.pools.values()].map((p): Sample => [{ pool: p.name }, p.queued + (this.#live.queued.get(p.name) ?? 0)]));
    this.#collected('counter', 'furiwake_pool_queue_timeouts_total', 'Connections that gave up waiting in the queue.', ['pool'], () =>
      [...runtime.pools.values()].map((p): Sample => [{ pool: p.name }, p.queueTimeouts]));
    this.#collected('gauge', 'furiwake_pool_members_usable', 'Members that take new connections now.', ['pool'], () =>
      [...runtime.pools.values()].map((p): Sample => [{ pool: p.name }, p.members.filter((x) => x.usable).length]));

    // members
    this.#collected('gauge', 'furiwake_member_connections_active', 'Open connections (udp: flows) on a member.', m, perMember((x) => x.active));
    this.#collected('counter', 'furiwake_member_connections_total', 'Connections (udp: flows) sent to a member.', m, perMember((x) => x.total));
    this.#collected('counter', 'furiwake_member_connect_failures_total', 'Connects to a member that failed (refused, timed out, unreachable).', m, perMember((x) => x.failed));
    this.#collected('counter', 'furiwake_member_bytes_in_total', 'Bytes from clients to a member, including open connections.', m, perMember((x) => memberBytes(x, this.#live.bytes).in));
    this.#collected('counter', 'furiwake_member_bytes_out_total', 'Bytes from a member to clients, including open connections.', m, perMember((x) => memberBytes(x, this.#live.bytes).out));
    this.#collected('counter', 'furiwake_member_ejections_total', 'Times passive health ejected a member (passive-health).', m, perMember((x) => x.passive.ejections));
    this.#collected('counter', 'furiwake_member_ejections_held_total', "Times a member failed past passive health's threshold but the pool's max-ejected-percent kept it in.", m, perMember((x) => x.passive.held));
    this.#collected('gauge', 'furiwake_member_ejected', 'Whether passive health has ejected a member now (1) or not (0).', m, perMember((x) => (x.passive.ejected ? 1 : 0)));
    this.#collected('gauge', 'furiwake_member_weight', 'The weight the balancer uses (configured x agent percent x slow-start ramp).', m, perMember((x) => x.weight));
    this.#collected('gauge', 'furiwake_member_max_connections', 'The connection limit of a member; 0 = none.', m, perMember((x) => x.maxConnections));
    this.#collected('gauge', 'furiwake_member_state', `A member's state: 1 for the one it is in (${MEMBER_STATUSES.join(', ')}), 0 for the others.`, [...m, 'state'], function* () {
      for (const x of members()) {
        const now = memberStatus(x);
        for (const state of MEMBER_STATUSES) yield [{ pool: x.poolName, member: x.id, state }, state === now ? 1 : 0];
      }
    });

    // the active/standby pair (nothing without an ha section)
    this.#collected('counter', 'furiwake_ha_transitions_total', 'Times this node of the pair went into a VRRP role (master, backup, fault, init, stopped).', ['to'], function* () {
      for (const [to, n] of host.ha?.transitionsTotal() ?? []) yield [{ to }, n];
    });
    this.#collected('gauge', 'furiwake_ha_role', "This node's VRRP role: 1 for the one it is in, 0 for the others.", ['role'], function* () {
      const role = host.ha?.status()?.vrrp?.role;
      if (role === undefined) return;
      for (const r of HA_ROLES) yield [{ role: r }, r === role ? 1 : 0];
    });

    for (const metric of CONNTRACK_METRICS) {
      this.#collected(metric.type, metric.name, metric.help, metric.labels, function* () {
        const sync = host.ha?.conntrackSync();
        if (sync != null) yield* metric.samples(sync);
      });
    }

    // stick tables
    const perTable = (read: (t: StickTableSource) => number) => () => this.#stickTables().map((t): Sample => [{ service: t.service }, read(t)]);
    this.#collected('gauge', 'furiwake_stick_table_entries', 'Entries in a stick table.', ['service'], perTable((t) => t.table.size));
    this.#collected('gauge', 'furiwake_stick_table_max_entries', 'The most entries a stick table holds.', ['service'], perTable((t) => t.table.maxEntries));
    this.#collected('counter', 'furiwake_stick_table_hits_total', 'Lookups that found a live entry.', ['service'], perTable((t) => t.table.counters.hits));
    this.#collected('counter', 'furiwake_stick_table_misses_total', 'Lookups that found none.', ['service'], perTable((t) => t.table.counters.misses));
    this.#collected('counter', 'furiwake_stick_table_expirations_total', 'Entries dropped because their timeout passed.', ['service'], perTable((t) => t.table.counters.expirations));
    this.#collected('counter', 'furiwake_stick_table_evictions_total', 'Live entries dropped to make room (max-entries reached).', ['service'], perTable((t) => t.table.counters.evictions));

    // the ha replication link, per peer
    const perPeer = (read: (p: SyncPeerStatus) => number) => () => (host.haSync?.status().peers ?? []).map((p): Sample => [{ peer: p.peer }, read(p)]);
    this.#collected('gauge', 'furiwake_ha_sync_connected', 'Whether the link this node opened to an ha.sync peer is up and authenticated (1) or not (0).', ['peer'], perPeer((p) => (p.connected ? 1 : 0)));
    this.#collected('counter', 'furiwake_ha_sync_sent_total', 'Stick entries and operator changes sent to a peer.', ['peer'], perPeer((p) => p.sent));
    this.#collected('counter', 'furiwake_ha_sync_received_total', 'Stick entries and operator changes received from a peer and applied.', ['peer'], perPeer((p) => p.received));
    this.#collected('counter', 'furiwake_ha_sync_auth_failures_total', 'Links dropped because the other end did not prove the ha.sync key.', ['peer'], perPeer((p) => p.authFailures));
    this.#collected('gauge', 'furiwake_ha_sync_last_full_sync_seconds', 'When the last full resynchronisation with a peer was done (seconds since epoch; 0: never).', ['peer'], perPeer((p) => (p.lastSync ?? 0) / 1000));
  }

  /** A metric whose samples are read from the runtime at each scrape. */
  #collected(type: 'gauge' | 'counter', name: string, help: string, labelNames: string[], read: () => Iterable<Sample>): void {
    const registers = [this.#registry];
    if (type === 'gauge') {
      new Gauge({ name, help, labelNames, registers, collect() {
        this.reset();
        // reset() gives a metric without labels a 0: one that has nothing to say (conntrackd
        // not run) must have no sample, not a 0 an alert would read as "conntrackd is down"
        if (labelNames.length === 0) this.remove();
        for (const [labels, value] of read()) this.set(labels, value);
      } });
    } else {
      new Counter({ name, help, labelNames, registers, collect() {
        this.reset();
        if (labelNames.length === 0) this.remove();
        for (const [labels, value] of read()) this.inc(labels, value);
      } });
    }
  }
}

/** The monitor's type, numbered when a member has two of one type (`http`, `http#2`). */
export function monitorLabel(checks: readonly CheckView[], index: number, type: string): string {
  let n = 0;
  for (let i = 0; i <= index && i < checks.length; i++) if (checks[i].type === type) n++;
  return n <= 1 ? type : `${type}#${n}`;
}

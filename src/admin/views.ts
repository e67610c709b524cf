// The runtime model as the API shows it: plain JSON objects of the shapes in schemas.ts, built
// on demand from the live services, pools, members and connections.

import { formatAddress } from '../config/address.ts';
import type { ConnectionEntry, Endpoint } from '../runtime/connection-table.ts';
import type { KernelConnection } from '../runtime/kernel-tables.ts';
import type { Member } from '../runtime/member.ts';
import type { Pool } from '../runtime/pool.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { Service } from '../runtime/service.ts';
import type { DatagramDrops } from './host.ts';
import type { RateEstimator, Rates, ServiceRates } from './rates.ts';
import { hideCheckOutput, hideQuery, hideReasonOutput } from './redact.ts';
import type { ConnectionView, MemberStateView, MemberStatus, MemberView, PoolView, ServiceView } from './schemas.ts';
import { memberBytes, type LiveTraffic } from './traffic.ts';

export interface ViewContext {
  runtime: Runtime;
  rates: RateEstimator;
  /** the live connections' bytes and counts (traffic.ts), computed once per response */
  live: LiveTraffic;
  /** the bound address of a service; null when it is not listening */
  serviceAddress(name: string): Endpoint | null;
  /** the datagrams a udp service dropped; null for other services */
  serviceDrops(name: string): DatagramDrops | null;
  /** include each member's per-second history */
  history: boolean;
}

/** One word for a member's state, the most important first. */
export function memberStatus(m: Member): MemberStatus {
  if (m.admin === 'disabled') return 'disabled';
  if (m.health === 'down') return 'down';
  if (m.health === 'checking') return 'checking';
  if (m.passive.ejected) return 'ejected';
  const agent = m.agent?.state;
  if (agent === 'maint' || agent === 'down') return 'maint';
  if (m.admin === 'drain' || agent === 'drain') return 'drain';
  if (m.full) return 'full';
  return 'up';
}

/** The fields of a member that its state changes touch: what a live `member` event carries. */
export function memberState(m: Member): MemberStateView {
  return {
    pool: m.poolName,
    id: m.id,
    status: memberStatus(m),
    usable: m.usable,
    health: m.health,
    healthReason: hideReasonOutput(m.healthReason),
    since: m.since,
    admin: m.admin,
    agent: m.agent === null ? null : { ...m.agent },
    checks: m.checks.map((c) => ({ ...c, reason: hideCheckOutput(c.type, c.reason) })),
    weight: m.configWeight,
    effectiveWeight: round(m.weight),
    maxConnections: m.maxConnections,
    passive: {
      failures: m.passive.failures,
      ejected: m.passive.ejected,
      ejectedUntil: m.passive.ejectedUntil,
      ejections: m.passive.ejections,
      held: m.passive.held,
      reason: m.passive.reason,
    },
  };
}

export function memberView(ctx: ViewContext, m: Member, poolTotal: number): MemberView {
  const bytes = memberBytes(m, ctx.live.bytes);
  const view: MemberView = {
    ...memberState(m),
    address: m.endpoint,
    host: m.host,
    backup: m.backup,
    connections: { active: m.active, total: m.total, failed: m.failed },
    bytes,
    requests: ctx.runtime.requests.ofMember(m),
    latency: round(m.latency),
    rates: roundRates(ctx.rates.rates(m)),
    share: poolTotal === 0 ? 0 : round(m.total / poolTotal),
  };
  if (ctx.history) view.history = ctx.rates.history(m);
  return view;
}

export function poolView(ctx: ViewContext, pool: Pool): PoolView {
  const total = pool.members.reduce((n, m) => n + m.total, 0);
  const health = pool.config.health;
  const rule = health.require;
  return {
    name: pool.name,
    algorithm: pool.algorithm,
    // its own services, and those whose routes send requests to it
    services: [...ctx.runtime.services.values()].filter((s) => s.pool === pool || s.routes?.routes.some((r) => r.dispatcher?.pool === pool) === true).map((s) => s.name),
    usable: pool.members.filter((m) => m.usable).length,
    members: pool.members.map((m) => memberView(ctx, m, total)),
    queue: { length: pool.queued + (ctx.live.queued.get(pool.name) ?? 0), max: pool.queueMax, timeout: pool.queueTimeout, timeouts: pool.queueTimeouts },
    health: {
      require: rule.kind === 'at-least' ? `at-least ${rule.n}` : rule.kind,
      monitors: health.monitors.map((m) => m.type),
      agent: health.agent !== null,
    },
  };
}

export function serviceView(ctx: ViewContext, service: Service): ServiceView {
  return {
    name: service.name,
    mode: service.config.mode,
    listen: formatAddress(service.config.listen),
    address: ctx.serviceAddress(service.name),
    pool: service.pool.name,
    connections: { active: ctx.live.services.get(service.name) ?? 0, total: ctx.runtime.connections.totals().get(service.name) ?? 0 },
    // an http client connection carries many requests: both are counted, each under its own name
    requests: service.config.mode === 'http' ? requestsOf(ctx.runtime, service.name) : null,
    protocols: service.config.mode === 'http' ? protocolsOf(ctx, service.name) : null,
    rates: roundServiceRates(ctx.rates.serviceRates(service.name)),
    persistence: service.config.persistence?.method ?? null,
    denied: service.denied,
    routes: service.routes === null ? null : service.routes.routes.map((r) => {
      const action = r.config.action;
      const { requests, errors, latencyMs, connections, denied } = r.stats;
      return { name: r.name, action: action.kind, pool: action.kind === 'pool' ? action.pool : null, requests, errors, meanLatency: requests === 0 ? 0 : round(latencyMs / requests), connections, denied };
    }),
    dropped: ctx.serviceDrops(service.name),
  };
}

function protocolsOf(ctx: ViewContext, service: string): NonNullable<ServiceView['protocols']> {
  const clients = ctx.live.httpClients.get(service);
  return {
    connections: { http1: clients?.http1 ?? 0, http2: clients?.http2 ?? 0 },
    requests: ctx.runtime.requests.byProtocol(service),
  };
}

function requestsOf(runtime: Runtime, service: string): number {
  let n = 0;
  for (const c of runtime.requests.list()) if (c.service === service) n += c.count;
  return n;
}

/** `showQuery`: the request target as sent; otherwise its query string is hidden (it may hold credentials). */
export function connectionView(e: ConnectionEntry, showQuery = false): ConnectionView {
  const m = e.member;
  return viewOf(
    e,
    m === null ? null : { pool: m.poolName, id: m.id, address: m.ip, port: m.port },
    e.request == null ? null : { method: e.request.method, path: showQuery ? e.request.path : hideQuery(e.request.path) },
    null,
  );
}

/** A connection of a nat or dsr service, as the kernel keeps it, in the same shape. */
export function kernelConnectionView(k: KernelConnection): ConnectionView {
  const m = k.member;
  return viewOf(
    k,
    m === null ? null : { pool: m.poolName, id: m.id, address: k.target.address, port: k.target.port },
    null,
    { mode: k.mode, state: k.state, expiresIn: Math.max(0, Math.round(k.expiresIn)), target: { ...k.target } },
  );
}

/** The fields a proxied and a kernel-kept connection show alike, around the parts each fills its own way. */
function viewOf(c: ConnectionEntry | KernelConnection, member: ConnectionView['member'], request: ConnectionView['request'], kernel: ConnectionView['kernel']): ConnectionView {
  return {
    id: c.id,
    protocol: c.protocol,
    service: c.service,
    client: { ...c.client },
    vip: { ...c.vip },
    balancer: c.local === null ? null : { ...c.local },
    member,
    http: 'http' in c ? (c.http ?? null) : null,
    request,
    memberProtocol: 'memberProtocol' in c ? (c.memberProtocol ?? null) : null,
    kernel,
    startedAt: c.startedAt,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function roundServiceRates(r: ServiceRates): ServiceRates {
  return { connections: round(r.connections), requests: round(r.requests) };
}

function roundRates(r: Rates): Rates {
  return { connections: round(r.connections), requests: round(r.requests), bytesIn: Math.round(r.bytesIn), bytesOut: Math.round(r.bytesOut) };
}

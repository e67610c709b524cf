// The file format, as zod schemas that check every key and transform the kebab-case document
// into the normalized `Config` (camelCase, durations in ms, addresses parsed, defaults filled).
// Leaves (addresses, durations, numbers, names) are parsed by our own functions so that every
// message says what was expected and what was found, in the same words everywhere.

import { z } from 'zod';
import { ALGORITHMS } from '../balance/index.ts';
import { formatAddress } from './address.ts';
import { healthSchema, memberHealthSchema } from './health-schema.ts';
import { checkPersistenceMode, persistenceSchema } from './persistence-schema.ts';
import { checkKernelKeys, isKernelMode, kernelServiceConfig, kernelServiceKeys } from './kernel-schema.ts';
import { checkHttpKeys, HTTP_DEFAULTS, httpServiceConfig, httpServiceKeys, httpTimeoutKeys } from './http-schema.ts';
import { expected, fail, ok, type Parsed } from './issues.ts';
import { accessIssue, accessSchema } from './access-schema.ts';
import { adminSchema } from './admin-schema.ts';
import { passiveHealthSchema } from './passive-schema.ts';
import { memberProtocolSchema, poolHttp2Schema } from './member-protocol-schema.ts';
import { haSchema } from './ha-schema.ts';
import { checkRateLimitKeys, rateLimitConfig, rateLimitSchema, withRateLimit } from './rate-limit-schema.ts';
import { logsSchema } from './logs-schema.ts';
import { checkServiceRoutes, tcpServiceConfig } from './routes-tcp.ts';
import { routesSchema } from './routes-schema.ts';
import { address, boolean, byName, duration, integer, leaf, MAX_INT, matching, NAME, oneOf, optional, section } from './schema-parts.ts';
import { routesOf } from './routes-types.ts';
import type {
  AlgorithmName,
  Config,
  GlobalConfig,
  LogLevel,
  MemberConfig,
  Mode,
  OnMemberDown,
  PoolConfig,
  ProxyProtocolVersion,
  ServiceConfig,
} from './types.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LogLevel[];
const MODES = ['tcp', 'udp', 'http', 'nat', 'dsr'] as const satisfies readonly Mode[];
/** Forwarding modes the design names but this version does not run yet. */
const LATER_MODES: string[] = [];

const ON_MEMBER_DOWN = ['keep', 'reselect', 'close'] as const satisfies readonly OnMemberDown[];

const MEMBER_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export const DEFAULTS = {
  shutdownGrace: 10_000,
  logLevel: 'info',
  connectTimeout: 5_000,
  idleTimeout: { tcp: 300_000, udp: 30_000, http: HTTP_DEFAULTS.idleTimeout },
  retries: 3,
  maxFlows: 65_536,
  algorithm: 'round-robin',
  weight: 1,
  queueMax: 1_000,
  queueTimeout: 5_000,
} as const;

// ---- global -------------------------------------------------------------------------------

/** The most worker threads a process may run (far more than cores on any machine it meets). */
const MAX_WORKERS = 256;
const wholeWorkers = integer(1, MAX_WORKERS);
const workers = leaf((input): Parsed<number | 'auto'> => {
  if (input === 'auto') return ok('auto');
  const n = wholeWorkers.safeParse(input);
  return n.success ? ok(n.data) : fail(expected(`auto or a whole number from 1 to ${MAX_WORKERS}`, input));
});

const globalSchema = section('a map with shutdown-grace, log-level and workers', {
  'shutdown-grace': duration({ allowZero: true }).default(DEFAULTS.shutdownGrace),
  'log-level': oneOf(LOG_LEVELS).default(DEFAULTS.logLevel),
  workers: workers.default('auto'),
}).transform(
  (g): GlobalConfig => ({ shutdownGrace: g['shutdown-grace'], logLevel: g['log-level'], workers: g.workers }),
);

// ---- services -----------------------------------------------------------------------------

const proxyProtocol = leaf((input): Parsed<ProxyProtocolVersion | null> => {
  if (input === 'v1' || input === 'v2') return ok(input);
  if (input === 'none') return ok(null);
  return fail(expected('v1, v2 or none', input));
});

// Exported one by one too: validate.ts checks how services refer to each other even when some
// other key of a service is wrong.
export const listenSchema = address({ allowPortZero: true });
/** Words people try for a mode that furiwake spells another way. */
const MODE_HINTS = {
  https: 'an https service is mode: http with a tls section (tls: { certificates: [ { cert: ..., key: ... } ] })',
  tls: 'to end TLS here use mode: http with a tls section; to pass TLS through to the members use mode: tcp',
  ssl: 'to end TLS here use mode: http with a tls section; to pass TLS through to the members use mode: tcp',
};
export const modeSchema = oneOf(MODES, LATER_MODES, MODE_HINTS);
export const poolRefSchema = matching(NAME, 'the name of a pool');

export const serviceSchema = section('a service: a map with listen, mode and pool', {
  listen: listenSchema,
  mode: modeSchema,
  pool: poolRefSchema,
  timeouts: optional(
    section('a map with connect and idle', {
      // Defaults are filled in below: a nat or dsr service that sets one is told it does not apply.
      connect: duration({ allowZero: false }).optional(),
      // The default depends on the mode, so it is filled in below.
      idle: duration({ allowZero: false }).optional(),
      ...httpTimeoutKeys,
    }),
  ),
  retries: integer(0, 10).optional(),
  'proxy-protocol': proxyProtocol.optional(),
  'accept-proxy': boolean.optional(),
  'max-flows': integer(1, 1_048_576).optional(),
  'balance-per': oneOf(['flow', 'sip-dialog', 'radius-request'] as const).optional(),
  'max-connections-per-client': integer(0, MAX_INT).optional(),
  'rate-limit': rateLimitSchema,
  persistence: persistenceSchema,
  ...kernelServiceKeys,
  ...httpServiceKeys,
  access: accessSchema.optional(),
  routes: routesSchema.optional(),
})
  .superRefine((s, ctx) => {
    checkKernelKeys(s, ctx);
    checkHttpKeys(s, ctx);
    // Settings of the other transport are refused rather than ignored: a udp service with a
    // PROXY header configured is a misunderstanding worth telling the operator about.
    // (nat and dsr are told in their own words by checkKernelKeys)
    if ((s.mode === 'udp' || s.mode === 'http') && s['proxy-protocol'] != null) {
      ctx.addIssue({ code: 'custom', path: ['proxy-protocol'], message: `only tcp services can send a PROXY protocol header; this service is ${s.mode}` });
    }
    if (s.mode === 'udp' && s.retries !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['retries'], message: 'retries counts the members a tcp or http service tries to connect to; a udp service sends each flow to one member and does not connect, so there is nothing to retry' });
    }
    if (s.mode === 'udp' && s.timeouts.connect !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['timeouts', 'connect'], message: 'a udp service does not connect to its members; timeouts.idle is the only timeout of a udp service' });
    }
    if (s['accept-proxy'] === true && s.mode !== 'tcp' && s.mode !== 'http') {
      ctx.addIssue({ code: 'custom', path: ['accept-proxy'], message: `only tcp and http services read a PROXY header from their clients; this service is ${s.mode}` });
    }
    if ((s.mode === 'tcp' || s.mode === 'http') && s['max-flows'] !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['max-flows'], message: `max-flows limits udp flows; this service is ${s.mode} (use max-connections on members)` });
    }
    if (s['balance-per'] !== undefined && s.mode !== 'udp') {
      ctx.addIssue({ code: 'custom', path: ['balance-per'], message: `balance-per chooses what a udp service balances (flows, SIP dialogs or single RADIUS requests); this service is ${s.mode}` });
    }
    if (s['max-connections-per-client'] !== undefined && s.mode !== 'tcp' && s.mode !== 'http') {
      ctx.addIssue({ code: 'custom', path: ['max-connections-per-client'], message: `max-connections-per-client caps the tcp and http connections of a client; this service is ${s.mode}` });
    }
    for (const issue of checkRateLimitKeys(s['rate-limit'], s.mode, s['max-connections-per-client'])) ctx.addIssue({ code: 'custom', ...issue });
    const noAccess = s.access === undefined ? null : accessIssue(s.mode);
    if (noAccess !== null) ctx.addIssue({ code: 'custom', path: ['access'], message: noAccess });
    checkServiceRoutes(s, ctx);
    const persistenceIssue = checkPersistenceMode(s.mode, s.persistence);
    if (persistenceIssue !== null) ctx.addIssue({ code: 'custom', ...persistenceIssue });
  })
  .transform(
    (s): ServiceConfig => ({
      listen: s.listen,
      mode: s.mode,
      pool: s.pool,
      timeouts: {
        connect: s.timeouts.connect ?? DEFAULTS.connectTimeout,
        idle: s.timeouts.idle ?? DEFAULTS.idleTimeout[isKernelMode(s.mode) ? (s.protocol ?? 'tcp') : s.mode],
      },
      retries: s.retries ?? DEFAULTS.retries,
      proxyProtocol: s['proxy-protocol'] ?? null,
      acceptProxy: s['accept-proxy'] ?? false,
      maxFlows: s['max-flows'] ?? DEFAULTS.maxFlows,
      balancePer: s['balance-per'] ?? 'flow',
      // rate-limit.connections is this same cap, written beside the other limits
      maxConnectionsPerClient: s['max-connections-per-client'] ?? s['rate-limit']?.connections ?? 0,
      ...withRateLimit(rateLimitConfig(s['rate-limit'])),
      persistence: s.persistence ?? null,
      access: s.access ?? null,
      // tcp, udp: only when given (absent = off), so configs without it read as before
      ...((s.mode === 'tcp' || s.mode === 'udp') && s['access-log'] !== undefined ? { accessLog: s['access-log'] } : {}),
      kernel: kernelServiceConfig(s),
      tcp: tcpServiceConfig(s),
      http: httpServiceConfig(s),
    }),
  );

// ---- pools --------------------------------------------------------------------------------

export const memberSchema = section('a member: a map with address (and id, weight, max-connections, backup)', {
  address: address({ allowPortZero: false }),
  id: matching(MEMBER_ID, 'an id of 1-64 letters, digits, ".", "_", ":" or "-"').optional(),
  weight: integer(0, 256).default(DEFAULTS.weight),
  'max-connections': integer(0, MAX_INT).default(0),
  backup: boolean.default(false),
  health: memberHealthSchema.optional(),
}).transform(
  (m): MemberConfig => ({
    address: m.address,
    id: m.id ?? formatAddress(m.address),
    weight: m.weight,
    maxConnections: m['max-connections'],
    backup: m.backup,
    health: m.health ?? null,
  }),
);

export const poolSchema = section('a pool: a map with members (and algorithm, queue)', {
  algorithm: oneOf(ALGORITHMS).default(DEFAULTS.algorithm),
  members: z
    .array(memberSchema, { error: (issue) => expected('a list of members', issue.input) })
    .min(1, { error: 'expected at least one member, got an empty list' }),
  queue: optional(
    section('a map with max and timeout', {
      max: integer(0, MAX_INT).default(DEFAULTS.queueMax),
      timeout: duration({ allowZero: false }).default(DEFAULTS.queueTimeout),
    }),
  ),
  health: healthSchema,
  'slow-start': duration({ allowZero: true }).default(0),
  'on-member-down': oneOf(ON_MEMBER_DOWN).optional(),
  'passive-health': passiveHealthSchema,
  'member-protocol': memberProtocolSchema,
  http2: poolHttp2Schema,
}).superRefine((p, ctx) => {
  // A member's own rule or monitors must still be satisfiable, like the pool's.
  p.members.forEach((m, i) => {
    if (m.health === null) return;
    const rule = m.health.require ?? p.health.require;
    const count = (m.health.monitors ?? p.health.monitors).length;
    if (rule.kind === 'at-least' && rule.n > count) {
      ctx.addIssue({ code: 'custom', path: ['members', i, 'health', m.health.require !== null ? 'require' : 'monitors'], message: `at-least ${rule.n} can never pass with ${count} monitor${count === 1 ? '' : 's'}` });
    }
  });
}).transform(
  (p): PoolConfig => ({ algorithm: p.algorithm, members: p.members, queue: p.queue, health: p.health, slowStart: p['slow-start'], onMemberDown: p['on-member-down'] ?? null, passiveHealth: p['passive-health'], memberProtocol: p['member-protocol'], http2: p.http2 }),
);

// ---- the whole file -----------------------------------------------------------------------

export const configSchema = section('a map with services and pools (and optionally global, logs, admin and ha)', {
  global: optional(globalSchema),
  logs: logsSchema.optional(),
  admin: adminSchema.optional(),
  ha: haSchema.optional(),
  services: byName('service', serviceSchema),
  pools: byName('pool', poolSchema),
}).superRefine((c, ctx) => {
  for (const [name, service] of Object.entries(c.services)) {
    // the service's pool, and the pools its routes send requests to
    const pools = new Set([service.pool, ...routesOf(service).flatMap((r) => (r.action.kind === 'pool' ? [r.action.pool] : []))]);
    for (const pool of pools) {
      const policy = c.pools[pool]?.onMemberDown ?? null;
      const issue = policy === null ? null : onMemberDownIssue(service.mode, policy);
      if (issue !== null) ctx.addIssue({ code: 'custom', path: ['pools', pool, 'on-member-down'], message: `${issue} (service ${name} is ${service.mode})` });
    }
    // without a secret each process signs with its own random key: the peer could not read the cookies after a failover
    if (c.ha !== undefined && service.persistence?.method === 'cookie' && service.persistence.secret === null) {
      ctx.addIssue({ code: 'custom', path: ['services', name, 'persistence', 'secret'], message: 'with ha configured, cookie persistence needs a secret shared by the nodes of the pair (without one each node signs with its own random key, and every sticky client loses its member at failover): add secret: ${FURIWAKE_COOKIE_SECRET}, 16 characters or more, the same on every node' });
    }
    (service.http?.routes ?? []).forEach((r, i) => {
      if (c.ha !== undefined && r.persistence?.method === 'cookie' && r.persistence.secret === null) {
        ctx.addIssue({ code: 'custom', path: ['services', name, 'routes', i, 'persistence', 'secret'], message: 'with ha configured, cookie persistence needs a secret shared by the nodes of the pair: add secret: ${FURIWAKE_COOKIE_SECRET}, 16 characters or more, the same on every node' });
      }
    });
  }
}).transform((c): Config => c);

/** Why a pool's on-member-down cannot apply to a service of `mode`; null when it can. */
function onMemberDownIssue(mode: Mode, policy: OnMemberDown): string | null {
  if (mode === 'tcp' && policy === 'reselect') return 'a tcp connection cannot move to another member once its bytes flow; use keep or close';
  if (mode === 'http' && policy === 'close') return 'close is not a choice for http: with reselect, requests in flight on the member end as if it had failed (idempotent ones retried on another member); use keep or reselect';
  if ((mode === 'nat' || mode === 'dsr') && policy !== 'keep') return `the kernel forwards ${mode} connections; furiwake cannot move them, use keep`;
  return null;
}

// The shapes of the admin API, as zod schemas. Requests (bodies, query strings) are validated
// with them; responses are built to their inferred types; the OpenAPI document is generated
// from them. One definition, three uses, so the document cannot drift from the code.

import { z } from 'zod';
import { MAX_INT, NAME } from '../config/schema-parts.ts';

/** Named schemas become `#/components/schemas/<id>` in the OpenAPI document. */
export const components = z.registry<{ id: string }>();

const MEMBER_ID = /^[A-Za-z0-9._:-]{1,64}$/;

// ---- requests -----------------------------------------------------------------------------

export const ADMIN_STATES = ['enabled', 'drain', 'disabled'] as const;

export const memberPatchSchema = z
  .strictObject({
    state: z.enum(ADMIN_STATES, { error: 'expected enabled, drain or disabled' }).optional()
      .describe('enabled: takes new connections; drain: keeps its connections and persistent clients, takes no new ones; disabled: takes nothing new, not even persistent clients'),
    weight: z.int({ error: 'expected a whole number from 0 to 256' }).min(0, { error: 'expected a whole number from 0 to 256' }).max(256, { error: 'expected a whole number from 0 to 256' }).optional()
      .describe('the weight an operator sets (the agent and slow start still scale it); kept across reloads unless the file changes this member\'s weight'),
    maxConnections: z.int({ error: 'expected a whole number, 0 or more' }).min(0, { error: 'expected a whole number, 0 or more' }).max(MAX_INT).optional()
      .describe('the most connections at once, 0 = no limit; kept across reloads unless the file changes this member\'s max-connections'),
  }, { error: 'expected a JSON object with state, weight or maxConnections' })
  .refine((p) => p.state !== undefined || p.weight !== undefined || p.maxConnections !== undefined, {
    error: 'expected at least one of state, weight, maxConnections',
  });
export type MemberPatch = z.infer<typeof memberPatchSchema>;
components.add(memberPatchSchema, { id: 'MemberPatch' });

const offset = z.coerce.number({ error: 'expected a whole number, 0 or more' }).int({ error: 'expected a whole number, 0 or more' })
  .min(0, { error: 'expected a whole number, 0 or more' }).max(MAX_INT).default(0).describe('entries to skip');
const limit = z.coerce.number({ error: 'expected a whole number from 1 to 1000' }).int({ error: 'expected a whole number from 1 to 1000' })
  .min(1, { error: 'expected a whole number from 1 to 1000' }).max(1000, { error: 'expected a whole number from 1 to 1000' }).default(100)
  .describe('entries to return at most');
const name = (what: string) => z.string().regex(NAME, { error: `expected a ${what} name` });

/** The filters of the connection table, shared by listing and ending connections. */
const connectionFilter = {
  service: name('service').optional().describe('only connections of this service'),
  pool: name('pool').optional().describe('only connections to members of this pool'),
  member: z.string().regex(MEMBER_ID, { error: 'expected a member id' }).optional().describe('only connections to this member (needs pool)'),
};
const memberHasPool = (q: { pool?: string; member?: string }): boolean => q.member === undefined || q.pool !== undefined;
const memberNeedsPool = { error: 'member needs pool (member ids are unique within a pool)', path: ['member'] };

export const connectionsQuerySchema = z.strictObject({
  ...connectionFilter,
  'show-query': z.enum(['true', 'false']).default('false').transform((v) => v === 'true')
    .describe("show request targets with their query strings (they may hold credentials); needs the token when one is set"),
  offset,
  limit,
}).refine(memberHasPool, memberNeedsPool);

/** Which connections to end: at least one filter, so that nothing ends everything by accident. */
export const endConnectionsQuerySchema = z.strictObject(connectionFilter)
  .refine(memberHasPool, memberNeedsPool)
  .refine((q) => q.service !== undefined || q.pool !== undefined || q.member !== undefined, { error: 'expected service, pool, or pool and member: which connections to end (nothing ends them all at once)' });

/** Forgetting a whole stick table is said in so many words. */
export const clearStickQuerySchema = z.strictObject({
  all: z.literal('true', { error: 'forgetting every entry of the table needs all=true (one client: DELETE /api/v1/stick-tables/{service}/entries/{key})' })
    .describe('must be true: every entry of the table is forgotten'),
});

export const stickQuerySchema = z.strictObject({
  key: z.string().min(1).max(1024, { error: 'expected a key of at most 1024 characters' }).optional().describe('only entries whose key contains this text'),
  offset,
  limit,
});

export const emptyQuerySchema = z.strictObject({});

// ---- responses ----------------------------------------------------------------------------

export const errorSchema = z.object({
  error: z.string().describe('what went wrong, for people'),
  issues: z.array(z.object({ path: z.string(), message: z.string(), file: z.string().optional(), line: z.number().optional() })).optional()
    .describe('each problem of a refused request or config file'),
});
components.add(errorSchema, { id: 'Error' });

/** A route's answer that is an Error: what it means, for the OpenAPI document. */
export function errorResponse(description: string): { description: string; schema: typeof errorSchema } {
  return { description, schema: errorSchema };
}

const endpoint = z.object({ address: z.string(), port: z.int() });

export const checkSchema = z.object({
  type: z.string().describe('the monitor type'),
  state: z.enum(['checking', 'up', 'down']).describe("the monitor's verdict after rise/fall"),
  up: z.boolean().describe('the last check passed'),
  reason: z.string(),
  latency: z.number().describe('ms the last check took'),
  at: z.number().describe('ms since epoch of the last check (0 = none yet)'),
  since: z.number().describe("ms since epoch of the verdict's last change"),
});
components.add(checkSchema, { id: 'Check' });

export const MEMBER_STATUSES = ['up', 'full', 'drain', 'checking', 'ejected', 'down', 'maint', 'disabled'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

export const memberSchema = z.object({
  pool: z.string(),
  id: z.string().describe("the id the config gives, else the member's host:port; unique in its pool"),
  address: z.string().describe('ip:port connections go to'),
  host: z.string().describe('host as configured'),
  backup: z.boolean(),
  status: z.enum(MEMBER_STATUSES).describe('one word for people: the first that applies of disabled, down, checking, ejected (passive health), maint (agent), drain, full, up'),
  usable: z.boolean().describe('takes new connections now'),
  health: z.enum(['checking', 'up', 'down']),
  healthReason: z.string(),
  since: z.number().describe('ms since epoch of the last health, admin or agent change'),
  admin: z.enum(ADMIN_STATES),
  agent: z.object({
    state: z.enum(['ready', 'up', 'drain', 'maint', 'down']),
    percent: z.number(),
    maxConnections: z.int().nullable(),
    message: z.string(),
    at: z.number(),
  }).nullable().describe("the agent's last word; null when the pool has no agent"),
  checks: z.array(checkSchema).describe("each monitor's last result, in the order of the member's monitors"),
  weight: z.number().describe('the weight from the file, or as an operator set it'),
  effectiveWeight: z.number().describe('what the balancer uses: weight x agent percent x slow-start ramp'),
  maxConnections: z.int().describe('0 = no limit'),
  passive: z.object({
    failures: z.int().describe('failures of real traffic in a row now (connects, resets before a reply, http 5xx and response timeouts)'),
    ejected: z.boolean().describe('passive health took it out: it takes nothing new until ejectedUntil'),
    ejectedUntil: z.number().describe('ms since epoch when the ejection ends; 0 when not ejected'),
    ejections: z.int().describe('times ejected since start'),
    held: z.int().describe("times the pool's max-ejected-percent kept it in past the threshold"),
    reason: z.string().describe("why it is (or was last) ejected, e.g. 'ejected: 5 consecutive connect failures'; '' when never"),
  }).describe('passive health (the pool key passive-health)'),
  connections: z.object({ active: z.int(), total: z.int(), failed: z.int().describe('connects that failed') }),
  bytes: z.object({ in: z.number().describe('client to member'), out: z.number().describe('member to client') }),
  requests: z.int().describe('HTTP responses from this member (0 outside http mode)'),
  latency: z.number().describe('moving average of connect time, ms'),
  rates: z.object({
    connections: z.number().describe('new connections per second (moving average); http: requests sent to this member per second'),
    requests: z.number().describe('HTTP responses from this member per second (moving average; 0 outside http mode)'),
    bytesIn: z.number().describe('bytes per second, client to member'),
    bytesOut: z.number().describe('bytes per second, member to client'),
  }),
  share: z.number().describe("this member's part of the pool's connections so far, 0..1"),
  history: z.array(z.number()).optional().describe('new connections in each of the last seconds, oldest first (snapshots and ?history=1)'),
});
components.add(memberSchema, { id: 'Member' });
export type MemberView = z.infer<typeof memberSchema>;

export const memberStateSchema = memberSchema.pick({
  pool: true, id: true, status: true, usable: true, health: true, healthReason: true, since: true, admin: true,
  agent: true, checks: true, weight: true, effectiveWeight: true, maxConnections: true, passive: true,
});
components.add(memberStateSchema, { id: 'MemberState' });
export type MemberStateView = z.infer<typeof memberStateSchema>;

export const memberEventSchema = z.object({
  change: z.object({ kind: z.enum(['health', 'admin', 'agent', 'weight', 'max-connections', 'ejection']), from: z.unknown(), to: z.unknown() }).loose(),
  member: memberStateSchema,
});
components.add(memberEventSchema, { id: 'MemberEvent' });

export const poolSchema = z.object({
  name: z.string(),
  algorithm: z.string(),
  services: z.array(z.string()).describe('services that send to this pool: as their pool, or by a route'),
  usable: z.int().describe('members that take new connections now'),
  members: z.array(memberSchema),
  queue: z.object({ length: z.int(), max: z.int(), timeout: z.int().describe('ms'), timeouts: z.int().describe('connections that gave up waiting') }),
  health: z.object({ require: z.string(), monitors: z.array(z.string()), agent: z.boolean() }),
});
components.add(poolSchema, { id: 'Pool' });
export type PoolView = z.infer<typeof poolSchema>;

export const serviceSchema = z.object({
  name: z.string(),
  mode: z.string(),
  listen: z.string().describe('the address as configured'),
  address: endpoint.nullable().describe('the bound address; null when not listening'),
  pool: z.string(),
  connections: z.object({ active: z.int(), total: z.int() }).describe('client connections (udp: flows); an http connection carries many requests'),
  requests: z.int().nullable().describe('http: HTTP responses sent to clients, furiwake\'s own error answers included; null outside http mode'),
  protocols: z.object({
    connections: z.object({
      http1: z.int().describe('open client connections speaking HTTP/1.0 or HTTP/1.1'),
      http2: z.int().describe('open client connections speaking HTTP/2'),
    }),
    requests: z.array(z.object({
      protocol: z.enum(['HTTP/1.0', 'HTTP/1.1', 'HTTP/2']).describe('the HTTP version the client spoke'),
      memberProtocol: z.enum(['http1', 'h2', 'h2c', '']).describe('how the member was spoken to (its pool\'s member-protocol); empty when furiwake answered itself'),
      count: z.int(),
    })).describe('HTTP responses sent, by the two protocols (only the pairs seen)'),
  }).nullable().describe('http: the split of connections and requests by protocol; null outside http mode'),
  rates: z.object({
    connections: z.number().describe('client connections (udp: flows) accepted per second (moving average)'),
    requests: z.number().describe('HTTP responses sent to clients per second (moving average; 0 outside http mode)'),
  }),
  persistence: z.string().nullable().describe('the persistence method, or null'),
  denied: z.int().describe('clients the service\'s access turned away: tcp connections closed at accept, udp datagrams dropped, http requests answered 403'),
  routes: z.array(z.object({
    name: z.string(),
    action: z.enum(['pool', 'redirect', 'respond', 'deny']),
    pool: z.string().nullable().describe('the pool of a pool action; null for the others'),
    requests: z.int().describe('requests the route took, answered by a member or by the route itself'),
    errors: z.int().describe('of those, answered with a 5xx (the member\'s, or furiwake\'s own 502, 503, 504)'),
    meanLatency: z.number().describe('ms from the request head to the end of the response, on average; 0 before any request'),
    connections: z.int().describe('tcp: connections the route took (sent to its pool or refused); 0 for http'),
    denied: z.int().describe('requests (tcp: connections) the route turned away: its deny action, or a client its access does not allow'),
  })).nullable().describe('http and tcp: the routes in order (first match wins; the rest go to pool); null without routes'),
  dropped: z.object({
    malformed: z.int().describe('from clients: not a well-formed message of the balance-per protocol, or a SIP response in no dialog known'),
    unmatched: z.int().describe('from members (balance-per): malformed, or answering nothing the client sent to that member'),
    noMember: z.int().describe('from clients: no member was usable'),
    denied: z.int().describe('from clients the service\'s access does not allow'),
  }).nullable().describe('udp services furiwake forwards itself: datagrams dropped since the service was bound; null for the others'),
});
components.add(serviceSchema, { id: 'Service' });
export type ServiceView = z.infer<typeof serviceSchema>;

export const connectionSchema = z.object({
  id: z.int(),
  protocol: z.enum(['tcp', 'udp']),
  service: z.string(),
  client: endpoint.describe("the client's address"),
  vip: endpoint.describe('the service address the client reached'),
  balancer: endpoint.nullable().describe("the balancer's own address on the member side; null until connected"),
  member: z.object({ pool: z.string(), id: z.string(), address: z.string(), port: z.int() }).nullable().describe('null while queued or connecting'),
  http: z.enum(['1.1', '2']).nullable().describe('http services: the HTTP version the client speaks on this connection (HTTP/2 carries many requests at once); null outside http'),
  request: z.object({ method: z.string(), path: z.string() }).nullable().describe('http: the request in progress (HTTP/2: one of them); null between requests and outside http'),
  memberProtocol: z.enum(['h2', 'h2c']).nullable().describe("http: h2 or h2c when that request's member is spoken to in HTTP/2 (its pool's member-protocol); null for HTTP/1.1, without a member, and outside http"),
  kernel: z.object({
    mode: z.enum(['nat', 'dsr']),
    state: z.string().describe("conntrack's state (ESTABLISHED, TIME_WAIT, ...); forwarding for a dsr flow"),
    expiresIn: z.int().describe('ms until the kernel forgets it unless traffic refreshes it'),
    target: endpoint.describe('where the kernel sends it: the member address'),
  }).nullable().describe('nat and dsr services: the kernel keeps this connection; null for those furiwake forwards itself'),
  startedAt: z.number().nullable().describe('ms since epoch; null where the kernel does not record it'),
  bytesIn: z.number().nullable().describe('client to member; null where the kernel does not count (nf_conntrack_acct=0, dsr)'),
  bytesOut: z.number().nullable(),
  worker: z.int().optional().describe('global.workers above 1: the worker thread that holds it (0, 1 ...); absent for the main thread\'s own (udp) and the kernel\'s'),
});
components.add(connectionSchema, { id: 'Connection' });
export type ConnectionView = z.infer<typeof connectionSchema>;

const page = <T extends z.ZodType>(items: T) => z.object({ total: z.int().describe('entries that match'), offset: z.int(), limit: z.int(), items: z.array(items) });

export const connectionPageSchema = page(connectionSchema);
components.add(connectionPageSchema, { id: 'ConnectionPage' });

export const stickTableSchema = z.object({
  service: z.string(),
  method: z.string(),
  kernel: z.boolean().describe('kept by the kernel (nat, dsr: an nftables set): read-only, without counters'),
  size: z.int().describe('entries now'),
  capacity: z.int().describe('the most entries (max-entries)'),
  timeout: z.int().describe('ms an entry lives without use'),
  hits: z.int().nullable().describe('null for a kernel table'),
  misses: z.int().nullable(),
  expirations: z.int().nullable(),
  evictions: z.int().nullable().describe('entries dropped to make room'),
});
components.add(stickTableSchema, { id: 'StickTable' });
export type StickTableSummary = z.infer<typeof stickTableSchema>;

export const stickEntrySchema = z.object({
  key: z.string(),
  pool: z.string(),
  member: z.string().nullable().describe('null when the member is no longer in the pool (a kernel entry not yet expired)'),
  expiresIn: z.int().describe('ms until the entry expires unless used again'),
});
components.add(stickEntrySchema, { id: 'StickEntry' });
export type StickEntryView = z.infer<typeof stickEntrySchema>;

export const stickPageSchema = page(stickEntrySchema);
components.add(stickPageSchema, { id: 'StickEntryPage' });

export const statusSchema = z.object({
  version: z.string(),
  pid: z.int(),
  startedAt: z.number(),
  uptime: z.number().describe('seconds'),
  auth: z.object({ reads: z.enum(['open', 'token']), writes: z.enum(['open', 'token']) }),
  reload: z.boolean().describe('POST /api/v1/reload can read the config again (false when started without a file)'),
  ha: z.boolean().describe('this furiwake is a node of an active/standby pair: GET /api/v1/ha says more'),
  services: z.int(),
  pools: z.int(),
  members: z.object({ total: z.int(), usable: z.int(), down: z.int() }),
  connections: z.int(),
});
components.add(statusSchema, { id: 'Status' });
export type StatusView = z.infer<typeof statusSchema>;

export const reloadSchema = z.object({
  changes: z.array(z.string()).describe('what the new file changed, one line each'),
  problems: z.array(z.string()).describe('what could not be applied (a port that cannot be bound); empty when all of it was'),
});
components.add(reloadSchema, { id: 'ReloadResult' });

export const deletedSchema = z.object({ deleted: z.int() });
components.add(deletedSchema, { id: 'Deleted' });

export const endedSchema = z.object({
  ended: z.int().describe('connections and flows ended'),
  kernel: z.int().describe('connections that matched and were left alone; always 0 since nat connections and dsr flows can be ended (kept for clients that read it)'),
});
components.add(endedSchema, { id: 'Ended' });

const haRoleSchema = z.enum(['init', 'backup', 'master', 'fault', 'stopped']).describe("keepalived's state of this node; stopped: keepalived is not running");

export const haStatusSchema = z.object({
  vrrp: z.object({
    role: haRoleSchema,
    interface: z.string(),
    routerId: z.int(),
    priority: z.int().describe('as configured'),
    vips: z.array(z.string()).describe('the VIPs the pair moves between its nodes'),
    handedOver: z.boolean().describe('true while an operator has handed the VIPs to the peer'),
    unfit: z.string().nullable().describe('why this node tells keepalived it must not hold the VIPs; null when fit'),
    keepalived: z.object({ running: z.boolean(), pid: z.int().nullable(), restarts: z.int() }),
    transitions: z.array(z.object({ from: haRoleSchema, to: haRoleSchema, at: z.number().describe('ms since epoch'), reason: z.string() })).describe('the last transitions, newest last'),
  }).nullable().describe('null when this node does not run VRRP (an ha section with only a sync link)'),
  sync: z.object({
    peers: z.array(z.object({
      peer: z.string().describe("the peer's sync address as configured (or the name a peer that connected here gave)"),
      connected: z.boolean().describe('the link this node opened to the peer is up and authenticated'),
      lastSync: z.number().nullable().describe('ms since epoch of the last full resynchronisation either way; null: never'),
      sent: z.int().describe('stick entries and operator changes sent to the peer'),
      received: z.int().describe('stick entries and operator changes received from the peer and applied'),
      authFailures: z.int().describe('links dropped because the other end did not prove the key (or broke the protocol before doing so)'),
    })),
    operator: z.array(z.object({
      pool: z.string(),
      member: z.string(),
      field: z.enum(['state', 'weight', 'maxConnections']),
      value: z.union([z.number(), z.string()]).describe('state: enabled, drain or disabled; weight and maxConnections: numbers'),
      at: z.number().describe('ms since epoch when the operator set it'),
      by: z.string().describe('the node it was set on (its sync address)'),
    })).describe('the last change of each member field set through the API or ctl on any node, newest first'),
  }).nullable().describe('the replication link; null when ha.sync is not configured'),
  conntrack: z.object({ running: z.boolean(), pid: z.int().nullable(), restarts: z.int() }).nullable()
    .describe('conntrackd; null when no nat or dsr service runs or conntrack-sync is off'),
});
components.add(haStatusSchema, { id: 'HaStatus' });

export const handoverSchema = z.strictObject({
  on: z.boolean({ error: 'expected true (hand the VIPs to the peer) or false (take part in the election again)' }),
});
components.add(handoverSchema, { id: 'Handover' });

export const snapshotSchema = z.object({
  at: z.number(),
  status: statusSchema,
  services: z.array(serviceSchema),
  pools: z.array(poolSchema),
  connections: z.object({ total: z.int(), recent: z.array(connectionSchema).describe('the newest connections, newest first') }),
  stickTables: z.array(stickTableSchema),
});
components.add(snapshotSchema, { id: 'Snapshot' });
export type Snapshot = z.infer<typeof snapshotSchema>;

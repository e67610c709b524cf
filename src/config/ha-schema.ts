// The `ha` section: an active/standby pair. VRRP itself is keepalived's (generated config, run
// as a child); this file only checks what the operator wrote and fills in the defaults.

import { isIP } from 'node:net';
import { canonicalIP } from './address.ts';
import { expected, fail, ok, type Parsed } from './issues.ts';
import { address, boolean, duration, integer, leaf, matching, optional, section } from './schema-parts.ts';
import { z } from 'zod';
import type { HaConfig } from './ha-types.ts';

export const HA_DEFAULTS = { priority: 100, advert: 1_000, preempt: true, conntrackPort: 3780 } as const;

/** Shorter keys are guessable; the key authenticates every stick entry and operator change. */
const MIN_SYNC_KEY = 16;

const ipLiteral = leaf((input): Parsed<string> => {
  if (typeof input === 'string' && isIP(input) !== 0) return ok(canonicalIP(input));
  return fail(expected('an IPv4 or IPv6 address (no port, no brackets)', input));
});

const ipList = z.array(ipLiteral, { error: (issue) => expected('a list of IP addresses', issue.input) });

/** VRRPv3 carries the interval in centiseconds, 12 bits: 10 ms to 40.95 s in steps of 10 ms. */
const advert = leaf((input): Parsed<number> => {
  const parsed = duration({ allowZero: false }).safeParse(input);
  if (!parsed.success) return fail(parsed.error.issues[0]?.message ?? expected('a duration such as 1s or 100ms', input));
  const ms = parsed.data;
  if (ms < 10 || ms > 40_950 || ms % 10 !== 0) return fail(`expected an interval from 10ms to 40.95s in steps of 10ms (VRRP counts centiseconds), got ${String(input)}`);
  return ok(ms);
});

const syncKey = leaf((input): Parsed<string> => {
  if (typeof input !== 'string') return fail(expected(`a key of at least ${MIN_SYNC_KEY} characters`, input));
  if (input.length < MIN_SYNC_KEY) return fail(`expected a key of at least ${MIN_SYNC_KEY} characters, got one of ${input.length}`);
  if (input.length > 4096) return fail('expected a key of at most 4096 characters');
  return ok(input);
});

const syncSchema = section('a map with listen, peers and key (and tls)', {
  listen: address({ allowPortZero: true }),
  peers: z.array(address({ allowPortZero: false }), { error: (issue) => expected('a list of host:port', issue.input) }).min(1, { error: 'expected at least one peer, got an empty list' }),
  key: syncKey,
  tls: section('a map with cert, key and ca (files)', {
    cert: z.string({ error: (issue) => expected('a file name', issue.input) }),
    key: z.string({ error: (issue) => expected('a file name', issue.input) }),
    ca: z.string({ error: (issue) => expected('a file name', issue.input) }),
  }).optional(),
});

const conntrackSyncSchema = section('a map with port (or false to turn kernel connection sync off)', {
  port: integer(1, 65_535).default(HA_DEFAULTS.conntrackPort),
});

export const haSchema = section('a map with interface, router-id and priority (and advert, preempt, peers, vips, sync)', {
  // both or neither: without them furiwake moves no VIP and only the sync link runs
  interface: matching(/^[A-Za-z0-9_.:@-]{1,15}$/, 'a network interface name (at most 15 characters)').optional(),
  'router-id': integer(1, 255).optional(),
  priority: integer(1, 254).default(HA_DEFAULTS.priority),
  advert: advert.default(HA_DEFAULTS.advert),
  preempt: boolean.default(HA_DEFAULTS.preempt),
  peers: ipList.default([]),
  vips: ipList.min(1, { error: 'expected at least one VIP, got an empty list (leave vips out to take every service address)' }).optional(),
  sync: syncSchema.optional(),
  // absent: on whenever a nat or dsr service runs; false: off
  'conntrack-sync': z.union([z.literal(false), conntrackSyncSchema]).optional(),
}).superRefine((h, ctx) => {
  if ((h.interface === undefined) !== (h['router-id'] === undefined)) {
    const missing = h.interface === undefined ? 'interface' : 'router-id';
    ctx.addIssue({ code: 'custom', path: [missing], message: `VRRP needs both interface and router-id; leave both out only when something else moves the VIPs and the section just replicates state (sync)` });
  }
  if (h.interface === undefined && h['router-id'] === undefined && h.sync === undefined) {
    ctx.addIssue({ code: 'custom', path: [], message: 'an ha section needs interface and router-id (furiwake runs VRRP and moves the VIPs), or at least a sync link' });
  }
}).transform((h): HaConfig => ({
  vrrp: h.interface !== undefined && h['router-id'] !== undefined,
  interface: h.interface ?? '',
  routerId: h['router-id'] ?? 0,
  priority: h.priority,
  advert: h.advert,
  preempt: h.preempt,
  peers: h.peers,
  vips: h.vips ?? null,
  sync: h.sync === undefined ? null : { listen: h.sync.listen, peers: h.sync.peers, key: h.sync.key, tls: h.sync.tls ?? null },
  conntrackSync: h['conntrack-sync'] === false ? null : { port: h['conntrack-sync']?.port ?? HA_DEFAULTS.conntrackPort },
}));

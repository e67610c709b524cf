// `rate-limit` as the file writes it, on a service and on an http route:
//   rate-limit: { requests: 100/s, burst: 200, by: client, connections: 10, connection-rate: 20/s }
// A rate is a count per second, minute or hour. Which keys a place may use is checked here with
// the path (checkRateLimitKeys): requests only where there are requests (http), connections only on
// a tcp or http service, nothing on udp, nat or dsr.

import type { z } from 'zod';
import { expected, fail, ok, type Parsed, type PathIssue } from './issues.ts';
import type { RateKey, RateLimitConfig } from './rate-limit-types.ts';
import { integer, leaf, MAX_INT, section } from './schema-parts.ts';

export const RATE_DEFAULTS = { ipv4Mask: 32, ipv6Mask: 64, tableSize: 65_536 } as const;
/** the most keys one table may hold (its slots take 80 bytes each, twice this many) */
export const MAX_TABLE_SIZE = 1 << 20;

const PER: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000 };
const RATE_FORM = 'a rate like 100/s, 600/m or 20/h';

/** `100/s` as a count per ms (more than 0, at most a million per second). */
export const rate = leaf((input): Parsed<number> => {
  const m = typeof input === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|m|h)\s*$/.exec(input) : null;
  if (m === null) return fail(expected(RATE_FORM, input));
  const perMs = Number(m[1]) / PER[m[2]];
  if (!(perMs > 0) || perMs > 1_000) return fail(`${expected(RATE_FORM, input)}; it must be more than 0 and at most 1000000/s`);
  return ok(perMs);
});

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `client`, `header X-Api-Key` or `{ header: X-Api-Key }`. */
const by = leaf((input): Parsed<RateKey> => {
  const form = 'client, "header X-Api-Key" or { header: X-Api-Key }';
  if (input === 'client') return ok({ kind: 'client' });
  let name: unknown;
  if (typeof input === 'string') {
    const m = /^header\s+(\S+)$/.exec(input.trim());
    if (m === null) return fail(expected(form, input));
    name = m[1];
  } else if (input !== null && typeof input === 'object' && !Array.isArray(input) && Object.keys(input).length === 1 && 'header' in input) {
    name = (input as { header: unknown }).header;
  } else {
    return fail(expected(form, input));
  }
  if (typeof name !== 'string' || !TOKEN.test(name)) return fail(`${expected('a header name', name)} after "header"`);
  return ok({ kind: 'header', name: name.toLowerCase() });
});

export const rateLimitSchema = section('a map with requests, burst, by, connections, connection-rate, connection-burst, ipv4-mask, ipv6-mask and table-size', {
  requests: rate.optional(),
  burst: integer(1, MAX_INT).optional(),
  by: by.optional(),
  connections: integer(1, MAX_INT).optional(),
  'connection-rate': rate.optional(),
  'connection-burst': integer(1, MAX_INT).optional(),
  'ipv4-mask': integer(1, 32).default(RATE_DEFAULTS.ipv4Mask),
  'ipv6-mask': integer(1, 128).default(RATE_DEFAULTS.ipv6Mask),
  'table-size': integer(16, MAX_TABLE_SIZE).default(RATE_DEFAULTS.tableSize),
}).superRefine((r, ctx) => {
  if (r.burst !== undefined && r.requests === undefined) ctx.addIssue({ code: 'custom', path: ['burst'], message: 'burst is the size of the requests bucket; set requests too (like requests: 100/s)' });
  if (r['connection-burst'] !== undefined && r['connection-rate'] === undefined) ctx.addIssue({ code: 'custom', path: ['connection-burst'], message: 'connection-burst goes with connection-rate (like connection-rate: 20/s)' });
}).optional();

export type RateLimitInput = NonNullable<z.output<typeof rateLimitSchema>>;

/** The bucket's size when none is given: one second of the rate, at least one. */
function burstOf(perMs: number | undefined, burst: number | undefined): number {
  return burst ?? (perMs === undefined ? 0 : Math.max(1, Math.ceil(perMs * 1_000)));
}

/** The normalized limit; null when it limits no rate (none given, or only `connections`). */
export function rateLimitConfig(r: RateLimitInput | undefined): RateLimitConfig | null {
  if (r === undefined || (r.requests === undefined && r['connection-rate'] === undefined)) return null;
  return {
    requests: r.requests ?? 0,
    burst: burstOf(r.requests, r.burst),
    connectionRate: r['connection-rate'] ?? 0,
    connectionBurst: burstOf(r['connection-rate'], r['connection-burst']),
    by: r.by ?? { kind: 'client' },
    ipv4Mask: r['ipv4-mask'],
    ipv6Mask: r['ipv6-mask'],
    tableSize: r['table-size'],
  };
}

/** `{ rateLimit }` to spread into a config, or nothing: a config without limits reads as before. */
export function withRateLimit(limit: RateLimitConfig | null): { rateLimit?: RateLimitConfig } {
  return limit === null ? {} : { rateLimit: limit };
}

/**
 * What a `rate-limit` may not say where it is (`where`: the service's mode, or 'route'), and that
 * `connections` and max-connections-per-client are one setting. Paths are from the service (or route).
 */
export function checkRateLimitKeys(r: RateLimitInput | undefined, where: string, maxConnectionsPerClient: number | undefined): PathIssue[] {
  if (r === undefined) return [];
  if (where !== 'tcp' && where !== 'http' && where !== 'route') {
    return [{ path: ['rate-limit'], message: `rate-limit applies to the clients of tcp and http services; this service is ${where}` }];
  }
  const issues: PathIssue[] = [];
  const at = (key: string, message: string) => issues.push({ path: ['rate-limit', key], message });
  if (where === 'tcp') {
    for (const key of ['requests', 'burst', 'by'] as const) {
      if (r[key] !== undefined) at(key, `${key} limits http requests; a tcp service limits connections (connections, connection-rate)`);
    }
  }
  if (where === 'route') {
    for (const key of ['connections', 'connection-rate', 'connection-burst'] as const) {
      if (r[key] !== undefined) at(key, `a route limits the requests it takes (requests, burst, by); ${key} limits a client's connections, on the service`);
    }
  }
  // (a burst without its rate was told already)
  if (r.requests === undefined && r.connections === undefined && r['connection-rate'] === undefined && r.burst === undefined && r['connection-burst'] === undefined) {
    issues.push({ path: ['rate-limit'], message: where === 'route' ? "a route's rate-limit needs requests (like requests: 100/s)" : 'rate-limit needs requests, connections or connection-rate' });
  }
  if (r.connections !== undefined && maxConnectionsPerClient !== undefined) {
    at('connections', 'rate-limit.connections and max-connections-per-client are the same setting; keep one');
  }
  return issues;
}

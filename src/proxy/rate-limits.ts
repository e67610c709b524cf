// The rate-limit checks of the data planes: a request of an http service (its service's limit,
// then its route's) and a new connection of a tcp or http service. A request over its limit is
// answered 429 with Retry-After (the seconds until its bucket has a token) and never reaches a
// member; a connection over its limit is closed at once. Keys: the client's address, masked
// (behind trusted proxies, the address X-Forwarded-For names), or a request header's value
// (`by: header X-Api-Key`; a request without it is counted under its address).

import type { RateLimit, RateLimits } from '../runtime/rate-limits.ts';
import { headerBounds } from '../routing/fields.ts';

/**
 * Takes a token from each limit the request falls under: 0 when it may pass, else the ms until
 * it may (the longest wait of the limits that refused it). `fields`: the request's header lines
 * (request-head.ts), read only by a limit keyed by a header.
 */
export function requestWait(limits: RateLimits, route: string | null, fields: string, client: string, now: number): number {
  let wait = 0;
  if (limits.requests !== null) wait = take(limits.requests, fields, client, now);
  if (route !== null && limits.routes.size > 0) {
    const own = limits.routes.get(route);
    if (own !== undefined) wait = Math.max(wait, take(own, fields, client, now));
  }
  return wait;
}

/** Takes a token for a new connection from `address`: 0 when it may come in, else the ms until it may. */
export function connectionWait(limits: RateLimits, address: string, now: number): number {
  const l = limits.connections;
  if (l === null) return 0;
  return Math.max(0, l.table.takeAddress(address, l.config.ipv4Mask, l.config.ipv6Mask, now));
}

/** where the header a limit is keyed by lies in the request's fields (one per thread) */
const bounds = new Int32Array(2);

function take(l: RateLimit, fields: string, client: string, now: number): number {
  const c = l.config;
  if (c.by.kind === 'header') {
    if (headerBounds(fields, c.by.name, bounds)) return l.table.takeHeader(fields, now, bounds[0], bounds[1]);
  }
  // (an address that does not read, -1, is let through: a unix socket's client has none)
  return Math.max(0, l.table.takeAddress(client, c.ipv4Mask, c.ipv6Mask, now));
}

/** the longest Retry-After said: 2^31 s, the cap of a delta-seconds (RFC 9111 1.2.2); beyond, a number prints with an exponent */
const MAX_RETRY_AFTER = 2_147_483_648;

/** Retry-After for a wait of `ms` (from requestWait): whole seconds, at least 1, at most MAX_RETRY_AFTER. */
export function retryAfterSeconds(ms: number): number {
  return Math.min(MAX_RETRY_AFTER, Math.ceil(ms / 1000));
}

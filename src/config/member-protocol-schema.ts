// The pool keys `member-protocol` and `http2`: how an http service speaks to the pool's members.
// http1 is one request per connection at a time (kept alive between requests); h2 (TLS with ALPN
// h2) and h2c (HTTP/2 in clear text, by prior knowledge) carry many requests at once on a few
// shared connections per member (proxy/http/h2-member-sessions.ts).

import { duration, integer, optional, section, oneOf } from './schema-parts.ts';

export const MEMBER_PROTOCOLS = ['http1', 'h2', 'h2c'] as const;
export type MemberProtocol = (typeof MEMBER_PROTOCOLS)[number];

export interface PoolHttp2Config {
  /** HTTP/2 connections open at once to one member (per worker thread); beyond, requests wait */
  maxConnectionsPerMember: number;
  /** a PING is sent on a connection after this long (ms) without a frame from the member; 0 = never */
  pingInterval: number;
  /** a PING unanswered this long (ms) means the connection is dead: it is closed */
  pingTimeout: number;
}

export const POOL_HTTP2_DEFAULTS: PoolHttp2Config = { maxConnectionsPerMember: 4, pingInterval: 30_000, pingTimeout: 10_000 };

export const memberProtocolSchema = oneOf(MEMBER_PROTOCOLS, [], { http: 'write http1', 'http/1.1': 'write http1', http2: 'write h2 (TLS) or h2c (clear text)' }).default('http1');

export const poolHttp2Schema = optional(
  section('a map with max-connections-per-member, ping-interval and ping-timeout', {
    'max-connections-per-member': integer(1, 1000).default(POOL_HTTP2_DEFAULTS.maxConnectionsPerMember),
    'ping-interval': duration({ allowZero: true }).default(POOL_HTTP2_DEFAULTS.pingInterval),
    'ping-timeout': duration({ allowZero: false }).default(POOL_HTTP2_DEFAULTS.pingTimeout),
  }).transform((h): PoolHttp2Config => ({
    maxConnectionsPerMember: h['max-connections-per-member'],
    pingInterval: h['ping-interval'],
    pingTimeout: h['ping-timeout'],
  })),
);

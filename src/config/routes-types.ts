// The normalized `routes` of an http service: an ordered list, each route a name, the conditions
// a request must meet (all of them), and one action. First match wins; a request no route takes
// goes to the service's pool. Regexes stay as their source text (the config is plain data: it is
// compared on reload and sent to worker threads); routing/ compiles them once per config.

import type { RateLimitConfig } from './rate-limit-types.ts';
import type { HeaderRulesConfig } from './header-rules-types.ts';
import type { PersistenceConfig } from './persistence-types.ts';
import type { AccessConfig } from './access-types.ts';

/** A header condition: the field is present, equals a value (case-sensitive), or matches a regex. */
export interface HeaderCondition {
  /** lowercase */
  name: string;
  kind: 'present' | 'equal' | 'regex';
  /** the value or the regex source; '' for present */
  value: string;
}

/** A query parameter condition: present (value null) or equal to a value, both as sent (not decoded). */
export interface QueryCondition {
  name: string;
  value: string | null;
}

/** Each list is "any of"; an empty list or null is no condition. All conditions must hold. */
export interface RouteMatchConfig {
  /** exact names (lowercase) and `*.example.com` wildcards (any name ending in .example.com) */
  hosts: string[];
  /** tested against the host in lowercase, without its port */
  hostRegex: string | null;
  /** exact paths (without the query) */
  paths: string[];
  pathPrefixes: string[];
  /** tested against the path without the query */
  pathRegex: string | null;
  /** uppercase */
  methods: string[];
  headers: HeaderCondition[];
  query: QueryCondition[];
  /** networks of the client address, canonical CIDR (`10.0.0.0/8`, `2001:db8::/32`) */
  clientNetworks: string[];
  /** https, tcp: the server name the client sent (exact or `*.` wildcard, lowercase) */
  sni: string[];
  /** https, tcp: tested against the server name the client sent (lowercase); null: no condition */
  sniRegex: string | null;
}

/** A piece of a redirect's location: text as written, or a field of the request. */
export type LocationPart = string | { field: LocationField };

/**
 * scheme: http or https; host: the Host as the client sent it (with its port, if any); path:
 * without the query; query: `?` and the query, or nothing when the request had none.
 */
export type LocationField = 'scheme' | 'host' | 'path' | 'query';

export type RedirectCode = 301 | 302 | 303 | 307 | 308;

/** On the way to a member, a path starting with `from` has it replaced by `to` (strip-prefix: to = ''). */
export interface PathRewrite {
  from: string;
  to: string;
}

export type RouteAction =
  | { kind: 'pool'; pool: string; rewrite: PathRewrite | null }
  /** location: the template as written; parts: it read once, text and the request's fields in turn */
  | { kind: 'redirect'; code: RedirectCode; location: string; parts: LocationPart[] }
  | { kind: 'respond'; status: number; body: string; contentType: string }
  | { kind: 'deny' };

export interface RouteConfig {
  name: string;
  match: RouteMatchConfig;
  action: RouteAction;
  /** the requests this route takes, per client or header (on top of the service's); absent or null = none */
  rateLimit?: RateLimitConfig | null;
  /** pool actions: header rules applied after the service's; null or absent: none */
  headers?: HeaderRulesConfig | null;
  /** pool actions: the route's own persistence, instead of the service's; null or absent: the service's */
  persistence?: PersistenceConfig | null;
  /** the client networks that may use the route once it matches (others: 403, or closed on tcp); null = everyone */
  access: AccessConfig | null;
}

/**
 * A tcp service's routes: the same list as an http service's, limited to what a tcp connection
 * shows before any byte is passed on — the TLS server name (sni) and the client's network — and
 * to the actions pool and deny.
 */
export interface TcpServiceConfig {
  routes: RouteConfig[];
}

/** The routes of a service of any mode (http or tcp; none for the others). */
export function routesOf(service: { http: { routes: RouteConfig[] } | null; tcp: TcpServiceConfig | null }): RouteConfig[] {
  return service.http?.routes ?? service.tcp?.routes ?? [];
}

// The `routes` of an http service as the file writes them: an ordered list of routes, each with a
// name, a `match` and exactly one action (pool, redirect, respond, deny). Everything a route can
// get wrong on its own is reported here with its path (a bad regex, a location with an unknown
// field, two actions, a duplicate name, a route that can never match); the pools routes name are
// checked against the file's pools by checkRoutePools once the whole file is read.

import { z } from 'zod';
import { headersSchema } from './header-rules-schema.ts';
import { accessSchema } from './access-schema.ts';
import { Hidden } from './routes-shadow.ts';
import { cidr, serverName } from './network-leaves.ts';
import { checkPersistenceMode, persistenceSchema } from './persistence-schema.ts';
import { expected, fail, ok, suggest, type Parsed, type PathIssue } from './issues.ts';
import type {
  HeaderCondition,
  LocationField,
  LocationPart,
  PathRewrite,
  QueryCondition,
  RedirectCode,
  RouteAction,
  RouteConfig,
  RouteMatchConfig,
  TcpServiceConfig,
} from './routes-types.ts';
import { checkRateLimitKeys, rateLimitConfig, rateLimitSchema, withRateLimit } from './rate-limit-schema.ts';
import { routesOf } from './routes-types.ts';
import { integer, leaf, matching, NAME, NAME_FORM, section } from './schema-parts.ts';

export const ROUTE_DEFAULTS = {
  redirectCode: 302,
  respondStatus: 200,
  contentType: 'text/plain; charset=utf-8',
} as const;

const REDIRECT_CODES = [301, 302, 303, 307, 308] as const satisfies readonly RedirectCode[];
const LOCATION_FIELDS = ['scheme', 'host', 'path', 'query'] as const satisfies readonly LocationField[];
const ACTIONS = ['pool', 'redirect', 'respond', 'deny'] as const;

// ---- leaves -------------------------------------------------------------------------------

/** One value or a list of them, as a list. */
function oneOrMany<T extends z.ZodType>(item: T, what: string) {
  return z.preprocess((input) => (Array.isArray(input) ? input : [input]), z.array(item, { error: (issue) => expected(what, issue.input) }));
}

/** A host as a request names it: `*.example.com`, a DNS name or an IP literal, without a port. */
const HOST = /^(?:\[[0-9a-f:.]+\]|[a-z0-9_~%!$&'()*+,;=.-]+)$/;
const hostName = leaf((input): Parsed<string> => {
  const form = 'a host name like api.example.com, a wildcard like *.example.com, or an address (without a port)';
  if (typeof input !== 'string') return fail(expected(form, input));
  const host = input.toLowerCase().replace(/\.$/, '');
  if (host.startsWith('*.')) return serverName.safeParse(host).success ? ok(host) : fail(expected(form, input));
  if (host !== '' && host.length <= 253 && HOST.test(host) && !host.includes('*')) return ok(host);
  return fail(expected(form, input) + (/:\d+$/.test(host) ? '; the port is not part of the host a route matches' : ''));
});

/** A path: starts with `/`, visible ASCII only (as a request target is). */
const PATH = /^\/[!-~]*$/;
const urlPath = leaf((input): Parsed<string> =>
  typeof input === 'string' && PATH.test(input) && !input.includes('?') && !input.includes('#')
    ? ok(input)
    : fail(expected('a path starting with "/" (visible ASCII, no "?" or "#"), like /api/', input)));

/** A JavaScript regular expression, compiled here once to tell a bad one at once. */
const regex = leaf((input): Parsed<string> => {
  if (typeof input !== 'string' || input === '') return fail(expected('a regular expression', input));
  try {
    new RegExp(input);
    return ok(input);
  } catch (err) {
    return fail(`${JSON.stringify(input)} is not a valid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
});

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const method = leaf((input): Parsed<string> =>
  typeof input === 'string' && METHOD.test(input) ? ok(input.toUpperCase()) : fail(expected('an HTTP method like GET', input)));

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A value compared with what the request sent: text without control characters. */
function plainValue(input: unknown): string | null {
  const value = typeof input === 'number' ? String(input) : input;
  return typeof value === 'string' && !/[\x00-\x08\x0a-\x1f\x7f]/.test(value) ? value : null;
}

const headers = leaf((input): Parsed<HeaderCondition[]> => {
  const form = 'a map of header names to true (present), a value (equal) or { regex: ... }';
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return fail(expected(form, input));
  const out: HeaderCondition[] = [];
  for (const [name, cond] of Object.entries(input)) {
    if (!TOKEN.test(name)) return fail(`${JSON.stringify(name)} is not a header name`);
    const lower = name.toLowerCase();
    if (cond === true || cond === 'true') {
      out.push({ name: lower, kind: 'present', value: '' });
      continue;
    }
    if (cond !== null && typeof cond === 'object' && !Array.isArray(cond)) {
      const keys = Object.keys(cond);
      const r = regex.safeParse((cond as Record<string, unknown>).regex);
      if (keys.length !== 1 || keys[0] !== 'regex') return fail(`header ${name}: ${expected('true, a value or { regex: ... }', cond)}`);
      if (!r.success) return fail(`header ${name}: ${r.error.issues[0].message}`);
      out.push({ name: lower, kind: 'regex', value: r.data });
      continue;
    }
    const value = plainValue(cond);
    if (value === null) return fail(`header ${name}: ${expected('true, a value or { regex: ... }', cond)}`);
    out.push({ name: lower, kind: 'equal', value });
  }
  return ok(out);
});

const query = leaf((input): Parsed<QueryCondition[]> => {
  const form = 'a map of query parameter names to true (present) or a value (equal)';
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return fail(expected(form, input));
  const out: QueryCondition[] = [];
  for (const [name, cond] of Object.entries(input)) {
    if (name === '' || !/^[!-~]+$/.test(name) || /[&=#]/.test(name)) return fail(`${JSON.stringify(name)} is not a query parameter name`);
    if (cond === true || cond === 'true') {
      out.push({ name, value: null });
      continue;
    }
    const value = plainValue(cond);
    if (value === null || !/^[!-~]*$/.test(value) || /[&#]/.test(value)) return fail(`query ${name}: ${expected('true or a value as it is sent (visible ASCII, no "&" or "#")', cond)}`);
    out.push({ name, value });
  }
  return ok(out);
});

/** A redirect's location, read once into text and fields: `https://{host}{path}{query}`. */
export function parseLocation(template: string): Parsed<LocationPart[]> {
  if (template === '' || !/^[!-~]*$/.test(template)) return fail(expected('a location (visible ASCII, no spaces), like https://{host}{path}{query}', template));
  const parts: LocationPart[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    const text = template.slice(i, open === -1 ? template.length : open);
    if (text.includes('}')) return fail(`a "}" without its "{" in the location ${JSON.stringify(template)}`);
    if (text !== '') parts.push(text);
    if (open === -1) break;
    const close = template.indexOf('}', open);
    const name = close === -1 ? '' : template.slice(open + 1, close);
    if (!(LOCATION_FIELDS as readonly string[]).includes(name)) {
      return fail(`unknown field {${name}} in the location ${JSON.stringify(template)}; the fields are ${LOCATION_FIELDS.map((f) => `{${f}}`).join(', ')}`);
    }
    parts.push({ field: name as LocationField });
    i = close + 1;
  }
  return ok(parts);
}

const location = leaf((input): Parsed<{ template: string; parts: LocationPart[] }> => {
  if (typeof input !== 'string') return fail(expected('a location, like https://{host}{path}{query}', input));
  const parts = parseLocation(input);
  return parts.ok ? ok({ template: input, parts: parts.value }) : parts;
});

const headerValue = leaf((input): Parsed<string> =>
  typeof input === 'string' && /^[\x20-\x7e]+$/.test(input) ? ok(input) : fail(expected('a content type like text/plain; charset=utf-8', input)));

// ---- sections -----------------------------------------------------------------------------

const matchSchema = section('a map of conditions (host, path, path-prefix, method, header, query, client-network, sni, sni-regex, ...)', {
  host: oneOrMany(hostName, 'a host or a list of hosts').optional(),
  'host-regex': regex.optional(),
  path: oneOrMany(urlPath, 'a path or a list of paths').optional(),
  'path-prefix': oneOrMany(urlPath, 'a path prefix or a list of them').optional(),
  'path-regex': regex.optional(),
  method: oneOrMany(method, 'a method or a list of methods').optional(),
  header: headers.optional(),
  query: query.optional(),
  'client-network': oneOrMany(cidr, 'a network or a list of networks ("10.0.0.0/8")').optional(),
  sni: oneOrMany(serverName, 'a server name or a list of them').optional(),
  'sni-regex': regex.optional(),
}).superRefine((m, ctx) => {
  if (m.path !== undefined && m['path-prefix'] !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['path-prefix'], message: 'a route matches path (exact) or path-prefix, not both: a path that is exact is its own prefix; use two routes' });
  }
}).transform((m): RouteMatchConfig => ({
  hosts: m.host ?? [],
  hostRegex: m['host-regex'] ?? null,
  paths: m.path ?? [],
  pathPrefixes: m['path-prefix'] ?? [],
  pathRegex: m['path-regex'] ?? null,
  methods: m.method ?? [],
  headers: m.header ?? [],
  query: m.query ?? [],
  clientNetworks: m['client-network'] ?? [],
  sni: m.sni ?? [],
  sniRegex: m['sni-regex'] ?? null,
}));

const redirectSchema = section('a map with location (and code)', {
  code: leaf((input): Parsed<RedirectCode> => {
    const n = Number(input);
    return (REDIRECT_CODES as readonly number[]).includes(n) ? ok(n as RedirectCode) : fail(expected('301, 302, 303, 307 or 308', input));
  }).default(ROUTE_DEFAULTS.redirectCode),
  location,
});

const respondSchema = section('a map with status, body and content-type', {
  status: integer(200, 599).default(ROUTE_DEFAULTS.respondStatus),
  body: leaf((input): Parsed<string> => (typeof input === 'string' ? ok(input) : typeof input === 'number' ? ok(String(input)) : fail(expected('a text', input)))).default(''),
  'content-type': headerValue.default(ROUTE_DEFAULTS.contentType),
}).superRefine((r, ctx) => {
  if ((r.status === 204 || r.status === 304) && r.body !== '') ctx.addIssue({ code: 'custom', path: ['body'], message: `a ${r.status} response has no body` });
});

const replacePrefixSchema = section('a map with from and to', { from: urlPath, to: urlPath });

const routeSchema = section('a route: a map with name, match and one action (pool, redirect, respond or deny)', {
  name: matching(NAME, NAME_FORM),
  match: matchSchema.optional(),
  pool: matching(NAME, 'the name of a pool').optional(),
  'strip-prefix': urlPath.optional(),
  'replace-prefix': replacePrefixSchema.optional(),
  redirect: redirectSchema.optional(),
  respond: respondSchema.optional(),
  deny: leaf((input): Parsed<true> => (input === true || input === 'true' ? ok(true) : fail(expected('true', input)))).optional(),
  'rate-limit': rateLimitSchema,
  headers: headersSchema,
  persistence: persistenceSchema,
  access: accessSchema.optional(),
}).superRefine((r, ctx) => {
  const actions = ACTIONS.filter((a) => r[a] !== undefined);
  if (actions.length === 0) ctx.addIssue({ code: 'custom', path: [], message: 'a route needs one action: pool, redirect, respond or deny' });
  for (const extra of actions.slice(1)) {
    ctx.addIssue({ code: 'custom', path: [extra], message: `a route has exactly one action; this one has ${actions.slice(0, -1).join(', ')} and ${actions[actions.length - 1]}` });
  }
  for (const key of ['strip-prefix', 'replace-prefix'] as const) {
    if (r[key] !== undefined && r.pool === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} rewrites the path on the way to a pool; this route has no pool` });
  }
  if (r['strip-prefix'] !== undefined && r['replace-prefix'] !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['replace-prefix'], message: 'a route rewrites its path once: strip-prefix or replace-prefix, not both' });
  }
  for (const issue of checkRateLimitKeys(r['rate-limit'], 'route', undefined)) ctx.addIssue({ code: 'custom', ...issue });
  for (const key of ['headers', 'persistence'] as const) {
    if (r[key] !== undefined && r.pool === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies to the requests a route sends to a pool; this route has no pool` });
  }
  const persistenceIssue = checkPersistenceMode('http', r.persistence);
  if (persistenceIssue !== null) ctx.addIssue({ code: 'custom', ...persistenceIssue });
  else if (r.persistence?.method === 'source-ip') {
    // its stick table would be one per worker thread, unknown to the API and the ha peer
    ctx.addIssue({ code: 'custom', path: ['persistence', 'method'], message: 'a route keeps no stick table of its own: use cookie, url or hash on a route, or source-ip on the service' });
  }
  if (r.access !== undefined && r.deny !== undefined) ctx.addIssue({ code: 'custom', path: ['access'], message: 'this route denies every request it matches; its access would change nothing' });
}).transform((r): RouteConfig => ({ name: r.name, match: r.match ?? emptyMatch(), action: actionOf(r), access: r.access ?? null,
  ...withRateLimit(rateLimitConfig(r['rate-limit'])),
  // (absent rather than null when not set: a route without them reads as before)
  ...(r.headers === undefined ? {} : { headers: r.headers }),
  ...(r.persistence === undefined ? {} : { persistence: r.persistence }),
}));

function actionOf(r: {
  pool?: string;
  'strip-prefix'?: string;
  'replace-prefix'?: PathRewrite;
  redirect?: { code: RedirectCode; location: { template: string; parts: LocationPart[] } };
  respond?: { status: number; body: string; 'content-type': string };
}): RouteAction {
  if (r.pool !== undefined) {
    const strip = r['strip-prefix'];
    const rewrite = strip !== undefined ? { from: strip, to: '' } : (r['replace-prefix'] ?? null);
    return { kind: 'pool', pool: r.pool, rewrite };
  }
  if (r.redirect !== undefined) return { kind: 'redirect', code: r.redirect.code, location: r.redirect.location.template, parts: r.redirect.location.parts };
  if (r.respond !== undefined) return { kind: 'respond', status: r.respond.status, body: r.respond.body, contentType: r.respond['content-type'] };
  return { kind: 'deny' };
}

export function emptyMatch(): RouteMatchConfig {
  return { hosts: [], hostRegex: null, paths: [], pathPrefixes: [], pathRegex: null, methods: [], headers: [], query: [], clientNetworks: [], sni: [], sniRegex: null };
}

/** A service's routes: names are unique, and a route that an earlier one hides entirely is refused. */
export const routesSchema = z
  .array(routeSchema, { error: (issue) => expected('a list of routes', issue.input) })
  .superRefine((routes, ctx) => {
    const first = new Map<string, number>();
    const conditions = new Map<string, number>();
    const hidden = new Hidden();
    /** the index in `routes` of each route `hidden` holds (the well-formed ones) */
    const held: number[] = [];
    routes.forEach((route, i) => {
      // a route that failed its own checks is here as written: it was reported already
      if (typeof route !== 'object' || route === null || !('action' in route)) return;
      const earlier = first.get(route.name);
      if (earlier !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate route name "${route.name}", also routes[${earlier}]` });
      else first.set(route.name, i);
      // the same conditions as an earlier route (or an earlier one with none): this one never matches
      const key = JSON.stringify(route.match);
      const same = conditions.get(key) ?? conditions.get(JSON.stringify(emptyMatch()));
      const widerAt = hidden.next(route.match);
      held.push(i);
      if (same !== undefined) {
        const why = key === JSON.stringify(routes[same].match) ? 'has the same conditions' : 'has no conditions (it takes every request)';
        ctx.addIssue({ code: 'custom', path: [i, 'match'], message: `this route never matches: routes[${same}] (${routes[same].name}) ${why} and comes first` });
      } else {
        // wider conditions than this route's: a host wildcard, a shorter prefix, more methods...
        const wider = widerAt === -1 ? -1 : held[widerAt];
        if (wider !== -1) ctx.addIssue({ code: 'custom', path: [i, 'match'], message: `this route never matches: routes[${wider}] (${routes[wider].name}) takes every request it would (its conditions are as wide or wider) and comes first` });
      }
      if (!conditions.has(key)) conditions.set(key, i);
    });
  });

/** The pool each route of each service names (null: a route with another action), by service. */
export type RoutePools = Record<string, readonly (string | null)[]>;

export function routePoolsOf(services: Readonly<Record<string, { http: { routes: RouteConfig[] } | null; tcp: TcpServiceConfig | null }>>): RoutePools {
  const out: RoutePools = {};
  for (const [name, s] of Object.entries(services)) out[name] = routesOf(s).map((r) => (r.action.kind === 'pool' ? r.action.pool : null));
  return out;
}

/** The pools the routes of a document name, where a route and its pool are well formed; for the checks that span keys. */
export function routePoolsIn(routes: unknown): (string | null)[] {
  if (!Array.isArray(routes)) return [];
  return routes.map((r: unknown) => {
    const pool = r !== null && typeof r === 'object' ? (r as { pool?: unknown }).pool : undefined;
    return typeof pool === 'string' && NAME.test(pool) ? pool : null;
  });
}

/** Every pool a route names exists. */
export function checkRoutePools(services: RoutePools, poolNames: readonly string[]): PathIssue[] {
  const issues: PathIssue[] = [];
  for (const [name, pools] of Object.entries(services)) {
    pools.forEach((pool, i) => {
      if (pool === null || poolNames.includes(pool)) return;
      const guess = suggest(pool, poolNames);
      const hint = guess !== undefined ? `; did you mean "${guess}"?` : `; pools are: ${poolNames.join(', ')}`;
      issues.push({ path: ['services', name, 'routes', i, 'pool'], message: `no pool named "${pool}"${hint}` });
    });
  }
  return issues;
}

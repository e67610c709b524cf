// The `persistence` key of a service: `method` chooses the keys of the rest, each method a
// strict map of its own, so a key of another method is an error rather than silently ignored.

import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { expected, fail, ok, type Parsed, type PathIssue } from './issues.ts';
import type {
  CookiePersistence,
  HashPersistence,
  PersistenceConfig,
  PersistenceMethod,
  SourceIpPersistence,
  TlsSessionPersistence,
  UrlPersistence,
} from './persistence-types.ts';
import { boolean, byKind, duration, integer, leaf, matching, oneOf, section } from './schema-parts.ts';

export const PERSISTENCE_DEFAULTS = {
  // HAProxy's usual stick-table for client addresses and SSL session ids: `expire 30m`.
  timeout: 30 * 60_000,
  maxEntries: 100_000,
  mask: 32,
  mask6: 128,
  cookie: 'FWSRV',
  path: '/',
  urlName: 'jsessionid',
  urlSeparator: '.',
} as const;

/** lru-cache reserves every slot up front (about 32 bytes each): 10M slots is 320 MB. */
const MAX_ENTRIES = 10_000_000;
const MIN_SECRET = 16;

/** Methods that read an HTTP request, so they need an http service. */
const HTTP_ONLY: readonly PersistenceMethod[] = ['cookie', 'url', 'hash'];

// ---- leaves -------------------------------------------------------------------------------

/** A cookie name: an RFC 6265 token. */
const cookieName = matching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/, 'a cookie name (letters, digits and !#$%&\'*+-.^_`|~, at most 64)');
/** A query parameter, path parameter or header name. */
const paramName = matching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/, 'a name of letters, digits and !#$%&\'*+-.^_`|~ (at most 64)');
const cookiePath = matching(/^\/[\x21-\x3a\x3c-\x7e]{0,255}$/, 'a path starting with / (no spaces or ";")');
const cookieDomain = matching(/^\.?[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, 'a domain name');
const segment = integer(1, 64);

const secret = leaf((input): Parsed<string> =>
  typeof input === 'string' && input.length >= MIN_SECRET
    ? ok(input)
    : fail(expected(`a secret of at least ${MIN_SECRET} characters`, typeof input === 'string' ? `${input.length} characters` : input)));

/** `none` (a session cookie) or a duration of at least a second, as whole seconds. */
const maxAge = leaf((input): Parsed<number | null> => {
  if (input === 'none') return ok(null);
  const ms = parseDuration(input, { allowZero: false });
  if (!ms.ok || ms.value < 1000) return fail(expected('none or a duration of 1s or more', input));
  return ok(Math.floor(ms.value / 1000));
});

/** The separator of a url method: a single character, or '' for none. */
const separator = leaf((input): Parsed<string> =>
  typeof input === 'string' && input.length <= 1 && !/[\s/?#;=&]/.test(input)
    ? ok(input)
    : fail(expected('one character (not /, ?, #, ;, = or &) or "" for none', input)));

// ---- methods ------------------------------------------------------------------------------

const tableKeys = {
  timeout: duration({ allowZero: false }).default(PERSISTENCE_DEFAULTS.timeout),
  'max-entries': integer(1, MAX_ENTRIES).default(PERSISTENCE_DEFAULTS.maxEntries),
};

/** Keys of every method. */
const commonKeys = {
  'when-full': oneOf(['repin', 'wait'] as const).default('repin'),
};

const sourceIp = section('source-ip persistence', {
  method: z.literal('source-ip'),
  mask: integer(0, 32).default(PERSISTENCE_DEFAULTS.mask),
  mask6: integer(0, 128).default(PERSISTENCE_DEFAULTS.mask6),
  ...tableKeys,
  ...commonKeys,
}).transform((p): SourceIpPersistence => ({
  method: 'source-ip', mask: p.mask, mask6: p.mask6, timeout: p.timeout, maxEntries: p['max-entries'], whenFull: p['when-full'],
}));

const tlsSession = section('tls-session persistence', {
  method: z.literal('tls-session'),
  ...tableKeys,
  ...commonKeys,
}).transform((p): TlsSessionPersistence => ({ method: 'tls-session', timeout: p.timeout, maxEntries: p['max-entries'], whenFull: p['when-full'] }));

const cookie = section('cookie persistence', {
  method: z.literal('cookie'),
  cookie: cookieName.optional(),
  'cookie-mode': oneOf(['insert', 'rewrite', 'prefix'] as const).default('insert'),
  path: cookiePath.default(PERSISTENCE_DEFAULTS.path),
  domain: cookieDomain.optional(),
  'http-only': boolean.default(true),
  secure: boolean.default(false),
  'same-site': oneOf(['lax', 'strict', 'none'] as const).default('lax'),
  'max-age': maxAge.default(null),
  secret: secret.optional(),
  'expose-address': boolean.default(false),
  ...commonKeys,
}).superRefine((p, ctx) => {
  if (p['cookie-mode'] !== 'insert' && p.cookie === undefined) {
    ctx.addIssue({ code: 'custom', path: ['cookie'], message: `cookie-mode ${p['cookie-mode']} works on the application's own cookie: name it (e.g. JSESSIONID)` });
  }
  if (p['same-site'] === 'none' && !p.secure) {
    ctx.addIssue({ code: 'custom', path: ['same-site'], message: 'browsers drop a SameSite=None cookie that is not Secure: set secure: true, or same-site lax' });
  }
}).transform((p): CookiePersistence => ({
  method: 'cookie',
  cookie: p.cookie ?? PERSISTENCE_DEFAULTS.cookie,
  mode: p['cookie-mode'],
  path: p.path,
  domain: p.domain ?? null,
  httpOnly: p['http-only'],
  secure: p.secure,
  sameSite: p['same-site'],
  maxAge: p['max-age'],
  secret: p.secret ?? null,
  exposeAddress: p['expose-address'],
  whenFull: p['when-full'],
}));

/** name is for the parameter sources, segment for path-segment; the other is refused. */
function checkSourceKeys(p: { source: string; name?: string; segment?: number }, ctx: z.RefinementCtx, nameDefault?: string): void {
  if (p.source === 'path-segment' && p.name !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['name'], message: 'source path-segment takes segment, not name' });
  }
  if (p.source !== 'path-segment' && p.segment !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['segment'], message: `segment is for source path-segment; this source is ${p.source}` });
  }
  if (p.source !== 'path-segment' && p.name === undefined && nameDefault === undefined) {
    ctx.addIssue({ code: 'custom', path: ['name'], message: `missing; source ${p.source} needs the name of the ${p.source === 'header' ? 'header' : p.source === 'cookie' ? 'cookie' : 'parameter'}` });
  }
}

const url = section('url persistence', {
  method: z.literal('url'),
  source: oneOf(['path-parameter', 'query', 'path-segment'] as const).default('path-parameter'),
  name: paramName.optional(),
  segment: segment.optional(),
  separator: separator.optional(),
  ...commonKeys,
}).superRefine((p, ctx) => checkSourceKeys(p, ctx, PERSISTENCE_DEFAULTS.urlName)).transform((p): UrlPersistence => ({
  method: 'url',
  whenFull: p['when-full'],
  source: p.source,
  name: p.source === 'path-segment' ? null : (p.name ?? PERSISTENCE_DEFAULTS.urlName),
  segment: p.source === 'path-segment' ? (p.segment ?? 1) : null,
  // Tomcat-style ids (`;jsessionid=ABC.s2`) carry the route after a dot; the others are whole.
  separator: p.separator ?? (p.source === 'path-parameter' ? PERSISTENCE_DEFAULTS.urlSeparator : ''),
}));

const hash = section('hash persistence: a map with method, source (and name or segment)', {
  method: z.literal('hash'),
  source: oneOf(['query', 'header', 'cookie', 'path-segment'] as const),
  name: paramName.optional(),
  segment: segment.optional(),
  ...commonKeys,
}).superRefine((p, ctx) => {
  checkSourceKeys(p, ctx);
  if (p['when-full'] === 'wait') {
    ctx.addIssue({ code: 'custom', path: ['when-full'], message: 'hash spreads keys over the members with room (a full member\'s keys go to the next one in its table): when-full wait is for source-ip, tls-session, cookie and url' });
  }
}).transform((p): HashPersistence => ({
  method: 'hash',
  whenFull: p['when-full'],
  source: p.source,
  // Header names are matched as Node gives them: lower case.
  name: p.source === 'path-segment' ? null : p.source === 'header' ? p.name!.toLowerCase() : p.name!,
  segment: p.source === 'path-segment' ? (p.segment ?? 1) : null,
}));

export const persistenceSchema = z.preprocess(
  // `persistence:` left empty means none
  (input) => (input === null ? undefined : input),
  byKind<PersistenceMethod, PersistenceConfig>('method', 'persistence: a map with method (and its keys)', {
    'source-ip': sourceIp,
    'tls-session': tlsSession,
    cookie,
    url,
    hash,
  }).optional(),
);

/** A method the service's mode cannot run is refused, with the path of `method`. */
export function checkPersistenceMode(mode: string, persistence: PersistenceConfig | undefined): PathIssue | null {
  if (persistence === undefined) return null;
  const method = persistence.method;
  if (HTTP_ONLY.includes(method) && mode !== 'http') {
    return { path: ['persistence', 'method'], message: `${method} persistence reads HTTP requests: it needs an http service; this service is ${mode} (use source-ip${mode === 'tcp' ? ' or tls-session' : ''})` };
  }
  if (method === 'tls-session' && mode !== 'tcp') {
    return { path: ['persistence', 'method'], message: `tls-session persistence reads TLS passed through a tcp service; this service is ${mode}${mode === 'http' ? ' (use cookie)' : ' (use source-ip)'}` };
  }
  if (persistence.whenFull === 'wait' && mode !== 'tcp' && mode !== 'http') {
    return { path: ['persistence', 'when-full'], message: `a ${mode} service has no queue to wait in: when-full wait is for tcp and http services` };
  }
  return null;
}

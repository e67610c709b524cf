// The keys of an `http` service, as schema pieces that schema.ts spreads into the service map:
// TLS termination, the redirect to https, forwarded headers, timeouts of the HTTP exchange,
// limits, TLS and keep-alive towards members, the access log. They are optional in the
// schema so that a tcp or udp service that sets one can be told it does not apply there;
// `httpServiceConfig` fills the defaults for http services.

import { z } from 'zod';
import type {
  AlpnProtocol,
  ForwardedHeaders,
  Http2Config,
  HttpServiceConfig,
  MemberTlsConfig,
  RedirectConfig,
  TlsCertificateConfig,
  TlsConfig,
  TlsVersion,
} from './http-types.ts';
import { expected, fail, ok, type Parsed } from './issues.ts';
import { cidr, serverName } from './network-leaves.ts';
import { errorPagesSchema, headersSchema, requestIdSchema } from './header-rules-schema.ts';
import type { ErrorPagesConfig, HeaderRulesConfig, RequestIdConfig } from './header-rules-types.ts';
import type { RouteConfig } from './routes-types.ts';
import { boolean, duration, integer, leaf, MAX_INT, oneOf, optional, section } from './schema-parts.ts';

export const HTTP_DEFAULTS = {
  idleTimeout: 60_000,
  headersTimeout: 10_000,
  responseTimeout: 60_000,
  keepAliveTimeout: 30_000,
  /** off: a large upload over a slow link is legitimate; min-body-rate bounds a trickle */
  requestTimeout: 0,
  bodyTimeout: 60_000,
  minBodyRate: 500,
  requestLine: 8 * 1024,
  headers: 32 * 1024,
  forwarded: 'x-forwarded',
  maxIdle: 64,
  memberIdleTimeout: 30_000,
  minVersion: 'TLSv1.2',
  redirectPort: 443,
  redirectStatus: 301,
  alpn: ['h2', 'http/1.1'] as AlpnProtocol[],
  maxConcurrentStreams: 100,
  maxResetsPerSecond: 100,
} as const;

const FORWARDED = ['x-forwarded', 'forwarded', 'both', 'none'] as const satisfies readonly ForwardedHeaders[];
const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const satisfies readonly TlsVersion[];
const REDIRECT_STATUSES = [301, 302, 307, 308] as const;
const ALPN = ['h2', 'http/1.1'] as const satisfies readonly AlpnProtocol[];

// ---- leaves -------------------------------------------------------------------------------

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 * 1024 };

/** A size in bytes: `8192`, `8k` or `1m` (k = 1024 bytes). */
function size(min: number, max: number) {
  const form = `a size from ${min} to ${max} bytes, like 8192, 8k or 1m`;
  return leaf((input): Parsed<number> => {
    const m = /^(\d+)\s*([km]?)$/i.exec(typeof input === 'number' ? String(input) : typeof input === 'string' ? input : '');
    const bytes = m === null ? NaN : Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
    return bytes >= min && bytes <= max ? ok(bytes) : fail(expected(form, input));
  });
}

const file = leaf((input): Parsed<string> =>
  typeof input === 'string' && input.trim() !== '' ? ok(input) : fail(expected('a file path', input)));

/** `true` means the section with its defaults; `false` (or nothing) means off. */
function switchable<T extends z.ZodType>(schema: T) {
  return z.preprocess((input) => {
    if (input === true || input === 'true' || input === null) return {};
    if (input === false || input === 'false') return undefined;
    return input;
  }, schema.optional());
}

// ---- sections -----------------------------------------------------------------------------

const certificateSchema = section('a certificate: a map with cert and key (and names)', {
  cert: file,
  key: file,
  names: z.array(serverName, { error: (issue) => expected('a list of DNS names', issue.input) }).optional(),
}).transform(
  (c): TlsCertificateConfig => ({ certFile: c.cert, keyFile: c.key, cert: '', key: '', names: c.names ?? [] }),
);

const tlsSchema = section('a map with certificates (and min-version)', {
  certificates: z
    .array(certificateSchema, { error: (issue) => expected('a list of certificates', issue.input) })
    .min(1, { error: 'expected at least one certificate, got an empty list' }),
  'min-version': oneOf(TLS_VERSIONS).default(HTTP_DEFAULTS.minVersion),
  alpn: z
    .array(oneOf(ALPN), { error: (issue) => expected('a list of h2 and http/1.1', issue.input) })
    .min(1, { error: 'expected h2, http/1.1 or both, got an empty list' })
    .refine((list) => new Set(list).size === list.length, { error: 'each protocol once' })
    .optional(),
}).transform((t): TlsConfig => ({ certificates: t.certificates, minVersion: t['min-version'], alpn: t.alpn ?? [...HTTP_DEFAULTS.alpn] }));

const http2Schema = section('a map with h2c, max-concurrent-streams and max-resets-per-second', {
  h2c: boolean.default(false),
  'max-concurrent-streams': integer(1, 10_000).default(HTTP_DEFAULTS.maxConcurrentStreams),
  'max-resets-per-second': integer(1, 100_000).default(HTTP_DEFAULTS.maxResetsPerSecond),
}).transform((h): Http2Config => ({ h2c: h.h2c, maxConcurrentStreams: h['max-concurrent-streams'], maxResetsPerSecond: h['max-resets-per-second'] }));

const HTTP2_DEFAULTS: Http2Config = { h2c: false, maxConcurrentStreams: HTTP_DEFAULTS.maxConcurrentStreams, maxResetsPerSecond: HTTP_DEFAULTS.maxResetsPerSecond };

const redirectSchema = switchable(
  section('a map with port and status', {
    port: integer(1, 65_535).default(HTTP_DEFAULTS.redirectPort),
    status: leaf((input): Parsed<RedirectConfig['status']> => {
      const n = Number(input);
      return (REDIRECT_STATUSES as readonly number[]).includes(n) ? ok(n as RedirectConfig['status']) : fail(expected('301, 302, 307 or 308', input));
    }).default(HTTP_DEFAULTS.redirectStatus),
  }).transform((r): RedirectConfig => r),
);

const memberTlsSchema = switchable(
  section('a map with verify, sni and ca', {
    verify: boolean.default(true),
    sni: serverName.optional(),
    ca: file.optional(),
  }).transform((t): MemberTlsConfig => ({ verify: t.verify, sni: t.sni ?? null, caFile: t.ca ?? null, ca: null })),
);

const limitsSchema = section('a map with request-line and headers', {
  'request-line': size(256, 64 * 1024).default(HTTP_DEFAULTS.requestLine),
  headers: size(1024, 1024 * 1024).default(HTTP_DEFAULTS.headers),
}).transform((l) => ({ requestLine: l['request-line'], headers: l.headers }));

const memberKeepAliveSchema = section('a map with max-idle and idle-timeout', {
  'max-idle': integer(0, MAX_INT).default(HTTP_DEFAULTS.maxIdle),
  'idle-timeout': duration({ allowZero: false }).default(HTTP_DEFAULTS.memberIdleTimeout),
}).transform((k) => ({ maxIdle: k['max-idle'], idleTimeout: k['idle-timeout'] }));

// ---- what schema.ts spreads ---------------------------------------------------------------

/** Keys of a service's `timeouts` that only http services have. */
export const httpTimeoutKeys = {
  headers: duration({ allowZero: false }).optional(),
  response: duration({ allowZero: false }).optional(),
  'keep-alive': duration({ allowZero: false }).optional(),
  request: duration({ allowZero: true }).optional(),
  body: duration({ allowZero: false }).optional(),
  'min-body-rate': size(0, 1024 * 1024 * 1024).optional(),
};

/** Service keys that only http services have. */
export const httpServiceKeys = {
  tls: tlsSchema.optional(),
  'redirect-https': redirectSchema.optional(),
  forwarded: oneOf(FORWARDED).optional(),
  limits: optional(limitsSchema).optional(),
  'member-tls': memberTlsSchema.optional(),
  'member-keep-alive': optional(memberKeepAliveSchema).optional(),
  'access-log': boolean.optional(),
  http2: optional(http2Schema).optional(),
  'trusted-proxies': z.array(cidr, { error: (issue) => expected('a list of addresses or networks ("10.0.0.0/8")', issue.input) }).optional(),
  headers: headersSchema,
  'request-id': requestIdSchema,
  'error-pages': errorPagesSchema,
};

/** A service as parsed, as far as the http keys go. */
export interface HttpKeys {
  mode: string;
  timeouts: { headers?: number; response?: number; 'keep-alive'?: number; request?: number; body?: number; 'min-body-rate'?: number };
  tls?: TlsConfig;
  'redirect-https'?: RedirectConfig | null;
  forwarded?: ForwardedHeaders;
  limits?: HttpServiceConfig['limits'];
  'member-tls'?: MemberTlsConfig | null;
  'member-keep-alive'?: HttpServiceConfig['memberKeepAlive'];
  'access-log'?: boolean;
  http2?: Http2Config;
  'trusted-proxies'?: string[];
  routes?: RouteConfig[];
  headers?: HeaderRulesConfig;
  'request-id'?: RequestIdConfig;
  'error-pages'?: ErrorPagesConfig;
}

interface IssueSink {
  addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void;
}

/** A tcp or udp service that sets an http key is told so, rather than having it ignored. */
export function checkHttpKeys(s: HttpKeys, ctx: IssueSink): void {
  if (s.mode === 'http') {
    if (s.tls !== undefined && s['redirect-https'] != null) {
      ctx.addIssue({ code: 'custom', path: ['redirect-https'], message: 'this service terminates TLS itself; redirect-https belongs on its plain http twin' });
    }
    // a plain http client sends no server name: such a route could never match
    if (s.tls === undefined) {
      s.routes?.forEach((r, i) => {
        // (a route that failed its own checks is here as written: read with care)
        const match = (r as { match?: { sni?: unknown; sniRegex?: unknown } } | undefined)?.match;
        if (Array.isArray(match?.sni) && match.sni.length > 0) ctx.addIssue({ code: 'custom', path: ['routes', i, 'match', 'sni'], message: 'sni is the name a client sends in its TLS handshake; this service has no tls section' });
        if (typeof match?.sniRegex === 'string') ctx.addIssue({ code: 'custom', path: ['routes', i, 'match', 'sni-regex'], message: 'sni-regex reads the name a client sends in its TLS handshake; this service has no tls section' });
      });
    }
    if (s.tls !== undefined && s.http2?.h2c === true) {
      ctx.addIssue({ code: 'custom', path: ['http2', 'h2c'], message: 'h2c is HTTP/2 in clear text; an https service offers HTTP/2 in ALPN (tls.alpn)' });
    }
    return;
  }
  const only = `applies to http services only; this service is ${s.mode}`;
  for (const key of Object.keys(httpServiceKeys) as (keyof typeof httpServiceKeys)[]) {
    // tcp and udp services log their connections (flows) with it too
    if (key === 'access-log' && (s.mode === 'tcp' || s.mode === 'udp')) continue;
    if (s[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: key === 'access-log' ? `access-log applies to http, tcp and udp services; this service is ${s.mode} (the kernel forwards its packets, furiwake sees no connection end)` : `${key} ${only}` });
  }
  for (const key of Object.keys(httpTimeoutKeys) as (keyof typeof httpTimeoutKeys)[]) {
    if (s.timeouts[key] !== undefined) ctx.addIssue({ code: 'custom', path: ['timeouts', key], message: key === 'min-body-rate' ? `min-body-rate ${only}` : `the ${key} timeout ${only}` });
  }
}

/** The http settings of a service with every default filled in; null for other modes. */
export function httpServiceConfig(s: HttpKeys): HttpServiceConfig | null {
  if (s.mode !== 'http') return null;
  return {
    timeouts: {
      headers: s.timeouts.headers ?? HTTP_DEFAULTS.headersTimeout,
      response: s.timeouts.response ?? HTTP_DEFAULTS.responseTimeout,
      keepAlive: s.timeouts['keep-alive'] ?? HTTP_DEFAULTS.keepAliveTimeout,
      request: s.timeouts.request ?? HTTP_DEFAULTS.requestTimeout,
      body: s.timeouts.body ?? HTTP_DEFAULTS.bodyTimeout,
      minBodyRate: s.timeouts['min-body-rate'] ?? HTTP_DEFAULTS.minBodyRate,
    },
    limits: s.limits ?? { requestLine: HTTP_DEFAULTS.requestLine, headers: HTTP_DEFAULTS.headers },
    forwarded: s.forwarded ?? HTTP_DEFAULTS.forwarded,
    tls: s.tls ?? null,
    redirectHttps: s['redirect-https'] ?? null,
    memberTls: s['member-tls'] ?? null,
    memberKeepAlive: s['member-keep-alive'] ?? { maxIdle: HTTP_DEFAULTS.maxIdle, idleTimeout: HTTP_DEFAULTS.memberIdleTimeout },
    accessLog: s['access-log'] ?? true,
    trustedProxies: s['trusted-proxies'] ?? [],
    routes: s.routes ?? [],
    http2: s.http2 ?? { ...HTTP2_DEFAULTS },
    headers: s.headers ?? null,
    requestId: s['request-id'] ?? null,
    errorPages: s['error-pages'] ?? {},
  };
}

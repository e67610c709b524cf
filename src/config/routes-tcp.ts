// `routes` by mode: an http service reads them all (routes-schema.ts); a tcp service routes a
// connection before any of its bytes reach a member, so it can only ask what the connection shows
// by then — the TLS server name of its ClientHello (sni) and the client's network — and can only
// send it to a pool or deny it. The other modes have no routes. Everything else is refused here
// with its path rather than ignored.

import type { RouteConfig, RouteMatchConfig, TcpServiceConfig } from './routes-types.ts';

interface IssueSink {
  addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void;
}

/** The http conditions a tcp route cannot read, by their key in the file. */
const HTTP_CONDITIONS: readonly [keyof RouteMatchConfig, string][] = [
  ['hosts', 'host'],
  ['hostRegex', 'host-regex'],
  ['paths', 'path'],
  ['pathPrefixes', 'path-prefix'],
  ['pathRegex', 'path-regex'],
  ['methods', 'method'],
  ['headers', 'header'],
  ['query', 'query'],
];

function asked(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : value !== null && value !== undefined;
}

/** Routes on a service that cannot have them, and tcp routes that ask for what tcp cannot read. */
export function checkServiceRoutes(s: { mode: string; routes?: RouteConfig[] }, ctx: IssueSink): void {
  const routes = s.routes;
  if (routes === undefined || s.mode === 'http') return;
  if (s.mode !== 'tcp') {
    ctx.addIssue({ code: 'custom', path: ['routes'], message: `routes apply to http and tcp services; this service is ${s.mode}` });
    return;
  }
  routes.forEach((r, i) => {
    // (a route that failed its own checks is here as written: it was reported already)
    if (typeof r !== 'object' || r === null || !('action' in r)) return;
    for (const [field, key] of HTTP_CONDITIONS) {
      if (asked(r.match[field])) ctx.addIssue({ code: 'custom', path: ['routes', i, 'match', key], message: `a tcp service routes by sni and client-network; ${key} is read from an HTTP request (use an http service)` });
    }
    const a = r.action;
    if (a.kind === 'redirect' || a.kind === 'respond') {
      ctx.addIssue({ code: 'custom', path: ['routes', i, a.kind], message: `a tcp route sends a connection to a pool or denies it; ${a.kind} answers an HTTP request (use an http service)` });
    }
    // a route's rate limit counts requests, and header rules and cookie, url or hash persistence read them
    if (r.rateLimit != null) ctx.addIssue({ code: 'custom', path: ['routes', i, 'rate-limit'], message: "a route's rate-limit counts HTTP requests; on a tcp service put connection-rate or connections in the service's rate-limit" });
    if (r.headers != null) ctx.addIssue({ code: 'custom', path: ['routes', i, 'headers'], message: 'header rules edit HTTP requests and responses; a tcp service passes bytes as they are' });
    if (r.persistence != null) ctx.addIssue({ code: 'custom', path: ['routes', i, 'persistence'], message: "a tcp route uses its pool with the service's persistence; a route's own persistence reads HTTP requests (cookie, url, hash)" });
    if (a.kind === 'pool' && a.rewrite !== null) {
      const key = a.rewrite.to === '' ? 'strip-prefix' : 'replace-prefix';
      ctx.addIssue({ code: 'custom', path: ['routes', i, key], message: `${key} rewrites an HTTP path; a tcp service passes bytes as they are` });
    }
  });
}

/** The tcp settings of a service (its routes); null for other modes. */
export function tcpServiceConfig(s: { mode: string; routes?: RouteConfig[] }): TcpServiceConfig | null {
  return s.mode === 'tcp' ? { routes: s.routes ?? [] } : null;
}

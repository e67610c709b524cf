// A route in one line, for people (`furiwake validate`): its conditions in the file's words, then
// what it does. `api: host api.example.com, path-prefix /v1/ -> pool api (strip-prefix /v1)`.

import type { AccessConfig } from './access-types.ts';
import type { RouteAction, RouteConfig, RouteMatchConfig } from './routes-types.ts';

/** `tcp`: the route of a tcp service (a deny closes the connection rather than answer 403). */
export function describeRoute(route: RouteConfig, tcp = false): string {
  const conditions = describeMatch(route.match);
  let extra = '';
  if (route.persistence != null) extra += `, ${route.persistence.method} persistence`;
  if (route.headers != null) extra += ', header rules';
  const access = route.access === null ? '' : ` (access${describeAccess(route.access)})`;
  return `${route.name}: ${conditions === '' ? 'every request' : conditions} -> ${tcp && route.action.kind === 'deny' ? 'deny (connection closed)' : describeAction(route.action)}${extra}${access}`;
}

function describeAccess(a: AccessConfig): string {
  return `${a.allow.length > 0 ? ` allow ${a.allow.join(' ')}` : ''}${a.deny.length > 0 ? ` deny ${a.deny.join(' ')}` : ''}`;
}

function describeMatch(m: RouteMatchConfig): string {
  const out: string[] = [];
  const list = (key: string, values: readonly string[]): void => {
    if (values.length > 0) out.push(`${key} ${values.join(' or ')}`);
  };
  list('host', m.hosts);
  if (m.hostRegex !== null) out.push(`host-regex ${m.hostRegex}`);
  list('path', m.paths);
  list('path-prefix', m.pathPrefixes);
  if (m.pathRegex !== null) out.push(`path-regex ${m.pathRegex}`);
  list('method', m.methods);
  for (const h of m.headers) out.push(h.kind === 'present' ? `header ${h.name}` : h.kind === 'equal' ? `header ${h.name} = ${h.value}` : `header ${h.name} ~ ${h.value}`);
  for (const q of m.query) out.push(q.value === null ? `query ${q.name}` : `query ${q.name}=${q.value}`);
  list('client-network', m.clientNetworks);
  list('sni', m.sni);
  if (m.sniRegex !== null) out.push(`sni-regex ${m.sniRegex}`);
  return out.join(', ');
}

function describeAction(a: RouteAction): string {
  switch (a.kind) {
    case 'pool':
      if (a.rewrite === null) return `pool ${a.pool}`;
      return `pool ${a.pool} (${a.rewrite.to === '' ? `strip-prefix ${a.rewrite.from}` : `replace-prefix ${a.rewrite.from} with ${a.rewrite.to}`})`;
    case 'redirect':
      return `redirect ${a.code} ${a.location}`;
    case 'respond':
      return `respond ${a.status} (${a.contentType}, ${Buffer.byteLength(a.body)} bytes)`;
    case 'deny':
      return 'deny 403';
  }
}

// Whether an earlier route takes every request (or tcp connection) a later one would: then the
// later one never matches, which is a mistake worth refusing with its path. Decided condition by
// condition, conservatively — a route is called hidden only when each condition of the earlier
// route is provably at least as wide as the later one's (its hosts cover the later hosts, its
// prefixes the later paths, its methods the later methods...); regexes, headers, query and client
// networks count as covering only when the later route asks the same. The earlier route's access
// does not matter: a client it turns away is answered there, not passed on to the next route.

import type { HeaderCondition, QueryCondition, RouteMatchConfig } from './routes-types.ts';

/** Whether `earlier` matches every request that `later` matches. */
export function hides(earlier: RouteMatchConfig, later: RouteMatchConfig): boolean {
  return namesCover(earlier.hosts, later.hosts)
    && sameOrNone(earlier.hostRegex, later.hostRegex)
    && pathsCover(earlier, later)
    && sameOrNone(earlier.pathRegex, later.pathRegex)
    && subset(earlier.methods, later.methods)
    && earlier.headers.every((h) => later.headers.some((l) => sameHeader(h, l)))
    && earlier.query.every((q) => later.query.some((l) => sameQuery(q, l)))
    && subset(earlier.clientNetworks, later.clientNetworks)
    && namesCover(earlier.sni, later.sni)
    && sameOrNone(earlier.sniRegex, later.sniRegex);
}

/** An empty list asks nothing (covers all); otherwise the later list must be non-empty and inside it. */
function subset(earlier: readonly string[], later: readonly string[]): boolean {
  return earlier.length === 0 || (later.length > 0 && later.every((v) => earlier.includes(v)));
}

function sameOrNone(earlier: string | null, later: string | null): boolean {
  return earlier === null || earlier === later;
}

/** Names (hosts, server names): each later name is an earlier one, or under an earlier `*.` wildcard. */
function namesCover(earlier: readonly string[], later: readonly string[]): boolean {
  if (earlier.length === 0) return true;
  return later.length > 0 && later.every((name) => earlier.some((e) => nameCovers(e, name)));
}

function nameCovers(earlier: string, later: string): boolean {
  if (earlier === later) return true;
  if (!earlier.startsWith('*.')) return false;
  // `*.example.com` covers `a.example.com`, `*.a.example.com` and `a.b.example.com`
  const suffix = earlier.slice(1);
  const name = later.startsWith('*.') ? later.slice(1) : later;
  return name.endsWith(suffix) && name.length > suffix.length;
}

/** Exact paths and prefixes: each later path is an earlier path or under an earlier prefix; each later prefix under an earlier prefix. */
function pathsCover(earlier: RouteMatchConfig, later: RouteMatchConfig): boolean {
  if (earlier.paths.length === 0 && earlier.pathPrefixes.length === 0) return true;
  if (later.paths.length === 0 && later.pathPrefixes.length === 0) return false;
  const underPrefix = (p: string): boolean => earlier.pathPrefixes.some((e) => p.startsWith(e));
  return later.paths.every((p) => earlier.paths.includes(p) || underPrefix(p)) && later.pathPrefixes.every(underPrefix);
}

function sameHeader(a: HeaderCondition, b: HeaderCondition): boolean {
  return a.name === b.name && a.kind === b.kind && a.value === b.value;
}

function sameQuery(a: QueryCondition, b: QueryCondition): boolean {
  return a.name === b.name && a.value === b.value;
}

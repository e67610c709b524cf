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
  // (paths first: in a long list they tell most pairs apart at once)
  return pathsCover(earlier, later)
    && namesCover(earlier.hosts, later.hosts)
    && sameOrNone(earlier.hostRegex, later.hostRegex)
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
  if (earlier.length === 0) return true;
  if (later.length === 0) return false;
  for (const v of later) if (!earlier.includes(v)) return false;
  return true;
}

function sameOrNone(earlier: string | null, later: string | null): boolean {
  return earlier === null || earlier === later;
}

/** Names (hosts, server names): each later name is an earlier one, or under an earlier `*.` wildcard. */
function namesCover(earlier: readonly string[], later: readonly string[]): boolean {
  if (earlier.length === 0) return true;
  if (later.length === 0) return false;
  for (const name of later) if (!anyCovers(earlier, name)) return false;
  return true;
}

function anyCovers(earlier: readonly string[], name: string): boolean {
  for (const e of earlier) if (nameCovers(e, name)) return true;
  return false;
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
  for (const p of later.paths) if (!earlier.paths.includes(p) && !underPrefix(earlier.pathPrefixes, p)) return false;
  for (const p of later.pathPrefixes) if (!underPrefix(earlier.pathPrefixes, p)) return false;
  return true;
}

function underPrefix(prefixes: readonly string[], path: string): boolean {
  for (const e of prefixes) if (path.startsWith(e)) return true;
  return false;
}

function sameHeader(a: HeaderCondition, b: HeaderCondition): boolean {
  return a.name === b.name && a.kind === b.kind && a.value === b.value;
}

function sameQuery(a: QueryCondition, b: QueryCondition): boolean {
  return a.name === b.name && a.value === b.value;
}

/**
 * The routes of one list in order, each asked which earlier route hides it. Comparing every pair
 * would cost n² for n routes (12 million pairs at 5,000); an earlier route can only hide a later
 * one whose first path it covers and whose first host it covers, so the earlier routes are kept
 * by path and by host, and only those that could cover are compared, in file order.
 */
export class Hidden {
  readonly #matches: RouteMatchConfig[] = [];
  readonly #byPath = new Keyed();
  readonly #byHost = new Keyed();

  /** The index of the first earlier route that hides `match` (-1: none); then `match` is one of the earlier routes. */
  next(match: RouteMatchConfig): number {
    const byPath = this.#byPath.candidates(match.paths[0] ?? null, match.pathPrefixes[0] ?? null, pathPrefixesOf);
    const byHost = this.#byHost.candidates(match.hosts[0] ?? null, null, hostCoversOf);
    const fewer = byPath.length <= byHost.length ? byPath : byHost;
    fewer.sort((a, b) => a - b);
    let found = -1;
    for (const j of fewer) {
      if (hides(this.#matches[j], match)) {
        found = j;
        break;
      }
    }
    const i = this.#matches.length;
    this.#matches.push(match);
    this.#byPath.add(i, match.paths, match.pathPrefixes);
    this.#byHost.add(i, match.hosts.filter((h) => !h.startsWith('*.')), match.hosts.filter((h) => h.startsWith('*.')));
    return found;
  }
}

/** Earlier routes by the values that could cover a later one's: exact ones, wider ones, and those with none. */
class Keyed {
  readonly #exact = new Map<string, number[]>();
  readonly #wide = new Map<string, number[]>();
  readonly #none: number[] = [];

  add(i: number, exact: readonly string[], wide: readonly string[]): void {
    if (exact.length === 0 && wide.length === 0) return void this.#none.push(i);
    for (const v of exact) push(this.#exact, v, i);
    for (const v of wide) push(this.#wide, v, i);
  }

  /** The earlier routes that could cover a later one with this exact value or this wide one (null: none). */
  candidates(exact: string | null, wide: string | null, widerKeys: (value: string) => string[]): number[] {
    const out = [...this.#none];
    const value = exact ?? wide;
    if (value === null) return out;
    if (exact !== null) out.push(...(this.#exact.get(exact) ?? []));
    for (const key of widerKeys(value)) out.push(...(this.#wide.get(key) ?? []));
    return out;
  }
}

function push(map: Map<string, number[]>, key: string, i: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [i]);
  else if (list[list.length - 1] !== i) list.push(i);
}

/** Every prefix of a path (the prefixes that could cover it). */
function pathPrefixesOf(path: string): string[] {
  const out: string[] = [];
  for (let k = 1; k <= path.length; k++) out.push(path.slice(0, k));
  return out;
}

/** The `*.` wildcards that could cover a name (or a narrower wildcard). */
function hostCoversOf(name: string): string[] {
  const out: string[] = [];
  const bare = name.startsWith('*.') ? name.slice(2) : name;
  for (let dot = bare.indexOf('.'); dot !== -1; dot = bare.indexOf('.', dot + 1)) out.push(`*${bare.slice(dot)}`);
  if (name.startsWith('*.')) out.push(name);
  return out;
}

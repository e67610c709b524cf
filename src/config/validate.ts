// From a plain document to a Config, or to every problem in it: the schema first, then the
// rules that span keys. Both run even when the other finds problems, so one round of editing
// fixes everything.

import type { z } from 'zod';
import { adminSchema, checkAdminListener } from './admin-schema.ts';
import {
  checkListeners,
  checkMemberIds,
  checkPoolReferences,
  type Listener,
  type MemberIds,
  type PoolReference,
} from './checks.ts';
import { checkHa } from './ha-checks.ts';
import { suggest, type PathIssue, type PathSegment } from './issues.ts';
import { checkKernelServices } from './kernel-schema.ts';
import { checkRoutePools, routePoolsIn, routePoolsOf, type RoutePools } from './routes-schema.ts';
import { configSchema, listenSchema, memberSchema, modeSchema, poolRefSchema } from './schema.ts';
import type { Config } from './types.ts';

export type Validated = { ok: true; config: Config } | { ok: false; issues: PathIssue[] };

export function validateDocument(document: unknown): Validated {
  const parsed = configSchema.safeParse(document);
  if (parsed.success) {
    const { services, pools, admin } = parsed.data;
    const issues = crossChecks({ services, listeners: services, pools, poolNames: Object.keys(pools), admin, routePools: routePoolsOf(services) });
    issues.push(...checkKernelServices(parsed.data), ...checkHa(parsed.data));
    return issues.length === 0 ? { ok: true, config: parsed.data } : { ok: false, issues };
  }
  // There is no Config, but the keys that are well formed on their own can still be checked
  // against each other, so a missing pool is reported alongside a typo elsewhere.
  const issues = parsed.error.issues.flatMap(fromZod);
  issues.push(...crossChecks(wellFormedParts(document)));
  return { ok: false, issues };
}

interface Parts {
  services: Record<string, PoolReference>;
  listeners: Record<string, Listener>;
  pools: Record<string, MemberIds>;
  /** undefined when `pools` is not a map at all (that is reported already) */
  poolNames: string[] | undefined;
  admin?: { listen: Listener['listen'] };
  /** the pools routes name, by service */
  routePools: RoutePools;
}

function crossChecks(parts: Parts): PathIssue[] {
  return [
    ...(parts.poolNames === undefined ? [] : checkPoolReferences(parts.services, parts.poolNames)),
    ...(parts.poolNames === undefined ? [] : checkRoutePools(parts.routePools, parts.poolNames)),
    ...checkListeners(parts.listeners),
    ...checkMemberIds(parts.pools),
    ...checkAdminListener(parts.admin, parts.listeners),
  ];
}

function wellFormedParts(document: unknown): Parts {
  const parts: Parts = { services: {}, listeners: {}, pools: {}, poolNames: undefined, routePools: {} };
  for (const [name, service] of entriesOf(document, 'services')) {
    if (!isMap(service)) continue;
    const pool = poolRefSchema.safeParse(service.pool);
    const listen = listenSchema.safeParse(service.listen);
    const mode = modeSchema.safeParse(service.mode);
    if (pool.success) parts.services[name] = { pool: pool.data };
    parts.routePools[name] = routePoolsIn(service.routes);
    const kernel = { protocol: service.protocol === 'udp' ? 'udp' as const : 'tcp' as const };
    if (listen.success && mode.success) parts.listeners[name] = { listen: listen.data, mode: mode.data, kernel };
  }
  for (const [name, pool] of entriesOf(document, 'pools')) {
    const members = isMap(pool) && Array.isArray(pool.members) ? pool.members : [];
    parts.pools[name] = { members: members.map((member) => memberSchema.safeParse(member).data) };
  }
  const pools = isMap(document) ? document.pools : undefined;
  if (isMap(pools)) parts.poolNames = Object.keys(pools);
  const admin = isMap(document) && 'admin' in document ? adminSchema.safeParse(document.admin) : undefined;
  if (admin?.success === true) parts.admin = admin.data;
  return parts;
}

function fromZod(issue: z.core.$ZodIssue): PathIssue[] {
  const path = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    // schema.ts `section` puts the known keys, space separated, in this issue's message.
    const known = issue.message.split(' ');
    return issue.keys.map((key) => ({ path: [...path, key], message: unknownKey(key, known) }));
  }
  return [{ path, message: issue.message }];
}

function unknownKey(key: string, known: readonly string[]): string {
  const guess = suggest(key, known);
  if (guess !== undefined) return `unknown key "${key}"; did you mean "${guess}"?`;
  return `unknown key "${key}"; expected one of: ${known.join(', ')}`;
}

function entriesOf(document: unknown, key: string): [string, unknown][] {
  const section = isMap(document) ? document[key] : undefined;
  return isMap(section) ? Object.entries(section) : [];
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

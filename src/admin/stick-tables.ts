// What the admin API needs of a stick table (the bounded, expiring table behind stateful
// persistence): its bounds and counters, its entries, and forgetting them. The shape is that of
// persistence/stick-table.ts, written out here so the admin layer depends on no more than it
// reads (and tests can give a table of their own).

import type { Runtime } from '../runtime/runtime.ts';
import type { StickEntryView, StickTableSummary } from './schemas.ts';

export interface StickTableLike {
  readonly maxEntries: number;
  /** ms an entry lives without use */
  readonly timeout: number;
  readonly size: number;
  readonly counters: { readonly hits: number; readonly misses: number; readonly expirations: number; readonly evictions: number };
  /** live entries, most recently used first */
  entries(limit?: number): Iterable<{ key: string; member: string; expiresIn: number }>;
  /** Forgets one key; true when it was there. */
  delete(key: string): boolean;
  /** Forgets every key; returns how many there were. */
  clear(): number;
}

/** A service's stick table, with what the API shows beside it. */
export interface StickTableSource {
  readonly service: string;
  /** the persistence method (source-ip, tls-session) */
  readonly method: string;
  /** the pool whose member ids the entries hold */
  readonly pool: string;
  readonly table: StickTableLike;
}

export type StickTables = (runtime: Runtime) => Iterable<StickTableSource>;

/** The stick tables of the running services: one per service whose persistence keeps one (source-ip, tls-session). */
export const stickTablesOf: StickTables = function* (runtime) {
  for (const service of runtime.services.values()) {
    const p = service.persistence;
    if (p?.table != null) yield { service: service.name, method: p.config.method, pool: p.poolName, table: p.table };
  }
};

export function stickSummary(s: StickTableSource): StickTableSummary {
  const t = s.table;
  return {
    service: s.service,
    method: s.method,
    size: t.size,
    capacity: t.maxEntries,
    timeout: t.timeout,
    hits: t.counters.hits,
    misses: t.counters.misses,
    expirations: t.counters.expirations,
    evictions: t.counters.evictions,
  };
}

export function stickEntryView(s: StickTableSource, e: { key: string; member: string; expiresIn: number }): StickEntryView {
  return { key: e.key, pool: s.pool, member: e.member, expiresIn: Math.max(0, Math.round(e.expiresIn)) };
}

// What the admin API needs of a stick table (the bounded, expiring table behind stateful
// persistence): its bounds and counters, its entries, and forgetting them. The shape is that of
// persistence/stick-table.ts, written out here so the admin layer depends on no more than it
// reads (and tests can give a table of their own).

import { methodOf } from '../persistence/methods.ts';
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

/** Services whose connections the kernel forwards (nat, dsr): their persistence lives there too. */
const KERNEL_MODES: ReadonlySet<string> = new Set(['nat', 'dsr']);

/** The stick tables furiwake keeps: one per service whose persistence keeps one (source-ip, tls-session). */
export const stickTablesOf: StickTables = function* (runtime) {
  for (const service of runtime.services.values()) {
    const p = service.persistence;
    if (p?.table != null && !KERNEL_MODES.has(service.config.mode)) yield { service: service.name, method: p.config.method, pool: p.poolName, table: p.table };
  }
};

/** A stick table the kernel keeps (an nftables set per member), read through runtime.kernel. */
export interface KernelStickTable {
  readonly service: string;
  readonly method: string;
  readonly pool: string;
  readonly capacity: number;
  readonly timeout: number;
}

/** The nat and dsr services whose persistence the kernel keeps (source-ip), when the kernel plane is running. */
export function kernelStickTables(runtime: Runtime): KernelStickTable[] {
  if (runtime.kernel === null) return [];
  const out: KernelStickTable[] = [];
  for (const service of runtime.services.values()) {
    const p = service.config.persistence;
    if (p === null || !KERNEL_MODES.has(service.config.mode)) continue;
    // (the bounds are the same for either address family)
    const kept = methodOf(p).kernel?.(p, 'ip');
    if (kept === undefined) continue;
    out.push({ service: service.name, method: p.method, pool: service.pool.name, capacity: kept.size, timeout: kept.timeout });
  }
  return out;
}

/** The kernel tables' summaries: their sizes are read from the kernel; it keeps no counters. */
export async function kernelStickSummaries(runtime: Runtime): Promise<StickTableSummary[]> {
  const out: StickTableSummary[] = [];
  for (const t of kernelStickTables(runtime)) {
    const entries = await runtime.kernel!.sticky(t.service);
    out.push({ service: t.service, method: t.method, kernel: true, size: entries.length, capacity: t.capacity, timeout: t.timeout, hits: null, misses: null, expirations: null, evictions: null });
  }
  return out;
}

export function stickSummary(s: StickTableSource): StickTableSummary {
  const t = s.table;
  return {
    service: s.service,
    method: s.method,
    kernel: false,
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

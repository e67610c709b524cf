// The rate limits' tables across worker threads: the main thread's runtime makes them (its
// services hold them, and the admin API reads them there); their buffers go to the workers with
// each config, and each worker's services count in them, so a limit holds for the process.

import type { Runtime } from '../runtime/runtime.ts';

/** [service, table id, buffer] of every rate limit of `runtime`'s services (the main thread's). */
export function rateTablesOf(runtime: Runtime): [string, string, SharedArrayBuffer][] {
  const out: [string, string, SharedArrayBuffer][] = [];
  for (const service of runtime.services.values()) {
    for (const [id, buffer] of service.rateLimits?.tables() ?? []) out.push([service.name, id, buffer]);
  }
  return out;
}

/** A worker's side: each service of `runtime` counts in the tables the main thread made. */
export function shareRateTables(runtime: Runtime, tables: readonly [string, string, SharedArrayBuffer][], index: number): void {
  const byService = new Map<string, Map<string, SharedArrayBuffer>>();
  for (const [service, id, buffer] of tables) {
    let own = byService.get(service);
    if (own === undefined) byService.set(service, (own = new Map()));
    own.set(id, buffer);
  }
  for (const [name, own] of byService) runtime.services.get(name)?.rateLimits?.share(own, index);
}

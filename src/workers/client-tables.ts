// The shared tables of client counts (max-connections-per-client across worker threads), as the
// main thread keeps them: one per tcp or http service that caps its clients, made when the cap
// first appears and kept, by service name, as long as the service is configured (a reload that
// turns the cap off and on again finds the connections still counted there). Sent to the workers
// with each config; a worker that dies has its share given back before its replacement starts.

import type { Config } from '../config/types.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { clientTableBuffer, SharedClientTable, slotsFor } from '../runtime/shared-client-table.ts';

export class ClientTables {
  readonly #workers: number;
  readonly #tables = new Map<string, SharedClientTable>();

  constructor(workers: number) {
    this.#workers = workers;
  }

  /**
   * The tables of `config`'s services that cap their clients, made for those that have none yet,
   * sized for `maxConnections` (the process's budget; Infinity: unknown) distinct addresses.
   */
  assign(config: Config, maxConnections: number): [string, SharedArrayBuffer][] {
    const out: [string, SharedArrayBuffer][] = [];
    for (const name of this.#tables.keys()) if (config.services[name] === undefined) this.#tables.delete(name);
    for (const [name, sc] of Object.entries(config.services)) {
      let table = this.#tables.get(name);
      if (table === undefined) {
        if ((sc.mode !== 'tcp' && sc.mode !== 'http') || sc.maxConnectionsPerClient === 0) continue;
        table = new SharedClientTable(clientTableBuffer(slotsFor(maxConnections), this.#workers));
        this.#tables.set(name, table);
      }
      out.push([name, table.buffer]);
    }
    return out;
  }

  /** The worker at `index` exited: its clients' places come back. Returns how many. */
  reclaim(index: number): number {
    let returned = 0;
    for (const table of this.#tables.values()) returned += table.reclaim(index);
    return returned;
  }

  /** The table of a service (tests, the log). */
  table(service: string): SharedClientTable | undefined {
    return this.#tables.get(service);
  }
}

/** A worker's side: each service of `runtime` named in `tables` counts its clients there. */
export function shareClientTables(runtime: Runtime, tables: readonly [string, SharedArrayBuffer][], column: number): void {
  for (const [name, buffer] of tables) {
    const service = runtime.services.get(name);
    if (service !== undefined && service.clientTable?.buffer !== buffer) service.clientTable = new SharedClientTable(buffer, column);
  }
}

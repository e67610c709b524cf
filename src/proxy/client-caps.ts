// Per-client-address connection caps of a tcp or http service (max-connections-per-client): a
// client at its cap has its new connections closed at once, at accept, before any member is
// chosen. Only the connections admitted here are counted, so a cap turned on by a reload counts
// from then on. One loop counts in a Map of its own; worker threads count in the service's
// shared table (runtime/shared-client-table.ts), so the cap holds for the process.

import { COUNTED, type SharedClientTable } from '../runtime/shared-client-table.ts';

export class ClientCaps<C> {
  /** open connections by client address (one loop) */
  readonly #open = new Map<string, number>();
  /** the address each admitted connection was counted under */
  readonly #admitted = new Map<C, string>();
  /** shared: the address whose place take() got, until admit() names its connection */
  #taken: string | null = null;
  #takenFrom: SharedClientTable | null = null;

  /** Whether `address` has `cap` connections open already (one loop). */
  full(address: string, cap: number): boolean {
    return (this.#open.get(address) ?? 0) >= cap;
  }

  /**
   * Shared: takes a place for `address` in `table` if it has fewer than `cap`, held until
   * admit(). FULL, COUNTED, or UNCOUNTED (let in without a count: the table is crowded).
   */
  take(table: SharedClientTable, address: string, cap: number): number {
    // a place taken for a client that failed before admit() (a throw in between) is given back
    if (this.#taken !== null) this.#takenFrom!.release(this.#taken);
    this.#taken = null;
    const result = table.acquire(address, cap);
    if (result === COUNTED) {
      this.#taken = address;
      this.#takenFrom = table;
    }
    return result;
  }

  /**
   * Counts `conn` for `address` until release(conn); with `table`, the place take() got (false:
   * it got none, the connection is not counted).
   */
  admit(conn: C, address: string, table: SharedClientTable | null): boolean {
    if (table !== null) {
      if (this.#taken === null) return false;
      this.#taken = null;
      this.#admitted.set(conn, address);
      return true;
    }
    this.#open.set(address, (this.#open.get(address) ?? 0) + 1);
    this.#admitted.set(conn, address);
    return true;
  }

  /** The connection closed: its address has room for one more. */
  release(conn: C, table: SharedClientTable | null): void {
    // (none counted, as without a cap: no lookup, which would also give every connection object an identity hash)
    if (this.#admitted.size === 0) return;
    const address = this.#admitted.get(conn);
    if (address === undefined) return;
    this.#admitted.delete(conn);
    if (table !== null) return table.release(address);
    const n = this.#open.get(address) ?? 0;
    if (n <= 1) this.#open.delete(address);
    else this.#open.set(address, n - 1);
  }
}

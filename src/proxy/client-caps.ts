// Per-client-address connection caps of a tcp or http service (max-connections-per-client): a
// client at its cap has its new connections closed at once, at accept, before any member is
// chosen. Only the connections admitted here are counted, so a cap turned on by a reload counts
// from then on.

export class ClientCaps<C> {
  /** open connections by client address */
  readonly #open = new Map<string, number>();
  /** the address each admitted connection was counted under */
  readonly #admitted = new Map<C, string>();

  /** Whether `address` has `cap` connections open already. */
  full(address: string, cap: number): boolean {
    return (this.#open.get(address) ?? 0) >= cap;
  }

  /** Counts `conn` for `address` until release(conn). */
  admit(conn: C, address: string): void {
    this.#open.set(address, (this.#open.get(address) ?? 0) + 1);
    this.#admitted.set(conn, address);
  }

  /** The connection closed: its address has room for one more. */
  release(conn: C): void {
    const address = this.#admitted.get(conn);
    if (address === undefined) return;
    this.#admitted.delete(conn);
    const n = this.#open.get(address) ?? 0;
    if (n <= 1) this.#open.delete(address);
    else this.#open.set(address, n - 1);
  }
}

// The accept rule of tcp and http services, written once for both listeners: a new client needs
// room in the descriptor budget, then a token of its address's rate-limit.connection-rate, then
// room under its address's max-connections-per-client (rate-limit.connections). A
// client refused is closed at once with a reset (nothing was read from it), counted and logged now
// and then; no member is chosen for it.

import type { Logger } from '../log.ts';
import type { ResourceCounts } from '../runtime/resources.ts';
import type { Service } from '../runtime/service.ts';
import { FULL, UNCOUNTED } from '../runtime/shared-client-table.ts';
import { ClientCaps } from './client-caps.ts';
import { connectionWait } from './rate-limits.ts';
import type { StreamEngine, StreamOwner } from './stream.ts';

/** `C`: what a listener counts under a client address until it closes (a connection, or a raw socket). */
export class Admission<C> {
  readonly #service: Service;
  readonly #resources: ResourceCounts;
  readonly #log: Logger;
  readonly #caps = new ClientCaps<C>();

  constructor(service: Service, resources: ResourceCounts, log: Logger) {
    this.#service = service;
    this.#resources = resources;
    this.#log = log;
  }

  /**
   * Whether `client` (the engine's token of an accepted client) comes in, `open` being the
   * connections the descriptor budget already holds for the listener's side. Returns the address to
   * count it under with count(), or null: refused, counted, and closed.
   */
  admit(engine: StreamEngine, client: unknown, open: number): string | null {
    const resources = this.#resources;
    if (!resources.roomFor(open)) {
      resources.refusedOverBudget(this.#log, this.#service.name);
      refuse(engine, client);
      return null;
    }
    const cap = this.#service.config.maxConnectionsPerClient;
    const limits = this.#service.rateLimits;
    // no cap nor rate: the peer's address is not even read
    if (cap === 0 && limits?.connections == null) return '';
    const address = engine.peerAddress(client);
    if (limits !== null && connectionWait(limits, address, Date.now()) > 0) {
      resources.limited(this.#log, `rate:${this.#service.name}`, { service: this.#service.name, client: address },
        'a client is over rate-limit.connection-rate: its new connections are closed at once');
      refuse(engine, client);
      return null;
    }
    if (cap === 0) return address;
    // worker threads: the count is the process's, taken here at once (another worker may race for the last place)
    const table = this.#service.clientTable;
    const full = table === null ? this.#caps.full(address, cap) : this.#tookNoPlace(this.#caps.take(table, address, cap), address);
    if (full) {
      resources.refused(this.#log, this.#service.name, address);
      refuse(engine, client);
      return null;
    }
    return address;
  }

  /**
   * Counts an admitted client's `conn` under `address` (from admit()) until release(conn), when the
   * service caps its clients (a cap turned on by a reload counts from then on). Whether it did.
   */
  count(conn: C, address: string): boolean {
    if (this.#service.config.maxConnectionsPerClient === 0) return false;
    return this.#caps.admit(conn, address, this.#service.clientTable);
  }

  /** `conn` closed: its address has room for one more. */
  release(conn: C): void {
    this.#caps.release(conn, this.#service.clientTable);
  }

  /** Whether a take() from the shared table left the client out; one let in uncounted is logged now and then. */
  #tookNoPlace(result: number, address: string): boolean {
    if (result === FULL) return true;
    if (result === UNCOUNTED) {
      const n = this.#service.clientTable!.uncounted;
      // (1, 2, 4, 8...: a crowded table is heard of without a line per connection)
      if ((n & (n - 1)) === 0) this.#log.warn({ service: this.#service.name, address, uncounted: n }, 'a client is let in without max-connections-per-client: the table of client counts is full, or its address unreadable');
    }
    return false;
  }
}

/** The owner of a client refused at accept: it hears nothing it must act on. */
const REFUSED: StreamOwner = {
  streamData: () => true,
  streamEnd() {},
  streamDrained() {},
  streamConnected() {},
  streamError() {},
  streamClosed() {},
};

/** Closes an accepted client at once (the engine's token), with a reset: nothing was read from it. */
export function refuse(engine: StreamEngine, client: unknown): void {
  engine.adopt(client, REFUSED).reset();
}

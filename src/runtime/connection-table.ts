// The connection table: every live connection (tcp) or flow (udp), client -> service -> member.
// The data planes add an entry when a client arrives and remove it when the connection ends;
// the admin API and dashboard read it. Entries are the data planes' own connection objects,
// so the table costs one Map slot per connection and byte counts are read only when asked.

import type { MemberProtocol } from '../config/member-protocol-schema.ts';
import type { Member } from './member.ts';

export interface Endpoint {
  address: string;
  port: number;
}

export interface ConnectionEntry {
  readonly id: number;
  readonly protocol: 'tcp' | 'udp';
  readonly service: string;
  /** the client's address and port */
  readonly client: Endpoint;
  /** the service address the client reached (the VIP) */
  readonly vip: Endpoint;
  /** null while queued or connecting */
  readonly member: Member | null;
  /** the balancer's own address and port on the member side; null until connected */
  readonly local: Endpoint | null;
  /** ms since epoch */
  readonly startedAt: number;
  /** bytes from the client to the member */
  readonly bytesIn: number;
  /** bytes from the member to the client */
  readonly bytesOut: number;
  /** http: the HTTP version the client speaks on this connection */
  readonly http?: '1.1' | '2';
  /** http: the request in progress on this connection (null between requests) */
  readonly request?: { readonly method: string; readonly path: string } | null;
  /** http: h2 or h2c when that request's member is spoken to in HTTP/2 (its pool's member-protocol); null for HTTP/1.1 or without a member */
  readonly memberProtocol?: Exclude<MemberProtocol, 'http1'> | null;
  /** Ends the connection at once (shutdown after the grace period). */
  abort(): void;
  /**
   * Ends the connection on an operator's word (the admin API): tcp resets the client and the
   * member; http closes the client's connection (a request in flight is cut) and its member
   * connection; udp forgets the flow and closes its socket toward the member.
   */
  terminate(): void;
}

export interface ConnectionFilter {
  service?: string;
  member?: Member;
}

export class ConnectionTable {
  readonly #entries = new Map<number, ConnectionEntry>();
  /** connections (flows) ever added, by service: the metrics' per-service total */
  readonly #added = new Map<string, number>();
  #lastId = 0;
  /** callers of atMost(), waiting for the table to shrink */
  #waiting: { size: number; resolve: () => void }[] = [];

  nextId(): number {
    return ++this.#lastId;
  }

  /**
   * Ids go on from `first` (+1, +2 ...): a worker thread's table is given a range of its own, so
   * that ids stay unique across the threads (workers/connection-ids.ts). Call it before any entry.
   */
  idsFrom(first: number): void {
    this.#lastId = first;
  }

  get size(): number {
    return this.#entries.size;
  }

  add(entry: ConnectionEntry): void {
    this.#entries.set(entry.id, entry);
    this.#added.set(entry.service, (this.#added.get(entry.service) ?? 0) + 1);
  }

  /** Adds `n` to a service's total: connections another thread added (a worker's, workers/workers-view.ts). */
  counted(service: string, n: number): void {
    this.#added.set(service, (this.#added.get(service) ?? 0) + n);
  }

  /** Connections (flows) added so far, by service name. */
  totals(): ReadonlyMap<string, number> {
    return this.#added;
  }

  remove(entry: ConnectionEntry): void {
    this.#entries.delete(entry.id);
    if (this.#waiting.length > 0) this.#wake();
  }

  /** Resolves when the table holds at most `size` entries (at once if it does). */
  atMost(size: number): Promise<void> {
    if (this.#entries.size <= size) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push({ size, resolve }));
  }

  /** Resolves when the table is empty. */
  drained(): Promise<void> {
    return this.atMost(0);
  }

  #wake(): void {
    const size = this.#entries.size;
    this.#waiting = this.#waiting.filter((w) => {
      if (size > w.size) return true;
      w.resolve();
      return false;
    });
  }

  get(id: number): ConnectionEntry | undefined {
    return this.#entries.get(id);
  }

  *list(filter: ConnectionFilter = {}): IterableIterator<ConnectionEntry> {
    for (const entry of this.#entries.values()) {
      if (filter.service !== undefined && entry.service !== filter.service) continue;
      if (filter.member !== undefined && entry.member !== filter.member) continue;
      yield entry;
    }
  }

  count(filter: ConnectionFilter = {}): number {
    let n = 0;
    for (const _ of this.list(filter)) n++;
    return n;
  }
}

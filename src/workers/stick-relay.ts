// The main thread's side of the worker threads' stick tables (source-ip, tls-session). For each
// service the workers serve, the main thread's table is the union of the workers': what a worker
// sends (worker-sticks.ts) is set in it as if learned here — so the admin API lists it and the ha
// link sends it on to the peer node — and every change of it, whoever made it (a worker's entry,
// an ha peer's, an operator's deletion or clear), goes on to the workers at the next turn of the
// loop, to each worker but the one it came from. A key changed many times in one turn travels
// once. The messages are the ha link's (ha/sync-frame.ts): one shape for every replica. The
// workers' hits and misses are added to the main thread's table, which looks nothing up itself.
//
// Why replication and not one table in shared memory: a stick table is an LRU of string keys with
// an expiry per entry; in a SharedArrayBuffer that is a hand-made hash table with locks on every
// lookup of every connection. Replicated, a lookup stays a local Map read; a new client costs
// one message to the main thread and one to each other worker, batched with every other change
// of the same turn, and the next connection of that client finds its entry on any worker once
// those messages are read (bench/worker-sticks.ts: about half a millisecond to the main thread,
// median, one client at a time; a client's connections opened at the same instant may race it).

import type { StickEntryUpdate, SyncMessage } from '../ha/sync-frame.ts';
import type { StickMirror, StickTable } from '../persistence/stick-table.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { StickLookups } from './messages.ts';

/** what to post to one worker */
export type PostSticks = (index: number, messages: SyncMessage[]) => void;

/** a change to send on: the member (null: deleted), the time it has left, the worker it came from (-1: none) */
interface Change {
  member: string | null;
  expiresIn: number;
  from: number;
}

/** Messages and entries that crossed between the threads, each way (to measure the cost of a client). */
export interface RelayCounts {
  fromWorkers: { messages: number; entries: number };
  toWorkers: { messages: number; entries: number };
}

/** One main-thread table's changes since the last send to the workers. */
class TableMirror implements StickMirror {
  readonly service: string;
  readonly table: StickTable;
  readonly #relay: StickRelay;
  readonly pending = new Map<string, Change>();
  /** clears to send before `pending`: member null is every key */
  clears: { member: string | null; from: number }[] = [];

  constructor(service: string, table: StickTable, relay: StickRelay) {
    this.service = service;
    this.table = table;
    this.#relay = relay;
  }

  set(key: string, member: string, expiresIn: number): void {
    this.pending.set(key, { member, expiresIn, from: this.#relay.from });
    this.#relay.changed();
  }

  deleted(key: string): void {
    this.pending.set(key, { member: null, expiresIn: 0, from: this.#relay.from });
    this.#relay.changed();
  }

  cleared(member: string | undefined): void {
    // what was pending for those keys is gone with them; what comes after follows the clear
    if (member === undefined) this.pending.clear();
    else for (const [key, c] of this.pending) if (c.member === member) this.pending.delete(key);
    this.clears.push({ member: member ?? null, from: this.#relay.from });
    this.#relay.changed();
  }
}

export class StickRelay {
  readonly #runtime: Runtime;
  readonly #count: number;
  readonly #post: PostSticks;
  readonly #mirrors = new Map<string, TableMirror>();
  #scheduled: NodeJS.Immediate | null = null;
  /** the worker whose message is being applied (its changes are not sent back to it); -1 otherwise */
  from = -1;
  readonly counts: RelayCounts = { fromWorkers: { messages: 0, entries: 0 }, toWorkers: { messages: 0, entries: 0 } };

  constructor(runtime: Runtime, count: number, post: PostSticks) {
    this.#runtime = runtime;
    this.#count = count;
    this.#post = post;
  }

  /** Follows the tables of `services` (those the workers serve) after a config was applied here. */
  watchTables(services: readonly string[]): void {
    const served = new Set(services);
    for (const [name, m] of this.#mirrors) {
      if (served.has(name) && this.#tableOf(name) === m.table && m.table.mirror === m) continue;
      if (m.table.mirror === m) m.table.mirror = null;
      this.#mirrors.delete(name);
    }
    for (const name of served) {
      const table = this.#tableOf(name);
      if (table === null || this.#mirrors.has(name)) continue;
      const m = new TableMirror(name, table, this);
      table.mirror = m;
      this.#mirrors.set(name, m);
    }
  }

  /**
   * What worker `index` learned: set in the main thread's tables (the API and the ha link see
   * it), then sent to the other workers; its lookups are counted in the main thread's tables.
   */
  fromWorker(index: number, messages: readonly SyncMessage[], lookups: readonly StickLookups[] = []): void {
    this.counts.fromWorkers.messages++;
    for (const [service, hits, misses] of lookups) {
      const table = this.#mirrors.get(service)?.table;
      if (table === undefined) continue;
      table.counters.hits += hits;
      table.counters.misses += misses;
    }
    this.from = index;
    try {
      for (const m of messages) this.#take(m);
    } finally {
      this.from = -1;
    }
  }

  /** Every entry of the followed tables: what a new worker takes before it listens. */
  snapshot(): SyncMessage[] {
    const out: SyncMessage[] = [];
    for (const m of this.#mirrors.values()) {
      const entries: StickEntryUpdate[] = m.table.entries();
      if (entries.length > 0) out.push({ type: 'stick', service: m.service, entries });
    }
    return out;
  }

  close(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    for (const m of this.#mirrors.values()) if (m.table.mirror === m) m.table.mirror = null;
    this.#mirrors.clear();
  }

  /** Nothing waits to be sent to the workers. */
  get idle(): boolean {
    return this.#scheduled === null;
  }

  /** A followed table changed: the workers hear of it at the next turn of the loop. */
  changed(): void {
    this.#scheduled ??= setImmediate(this.#send);
  }

  #take(m: SyncMessage): void {
    if (m.type !== 'stick' && m.type !== 'unstick' && m.type !== 'clear') return;
    const table = this.#mirrors.get(m.service)?.table;
    const pool = this.#runtime.services.get(m.service)?.pool;
    // a reload removed the service meanwhile, or gave it other persistence
    if (table === undefined || pool === undefined) return;
    switch (m.type) {
      case 'stick':
        this.counts.fromWorkers.entries += m.entries.length;
        // a member a reload removed meanwhile is not remembered
        for (const e of m.entries) if (pool.member(e.member) !== undefined) table.set(e.key, e.member);
        return;
      case 'unstick':
        for (const key of m.keys) table.delete(key);
        return;
      case 'clear':
        table.clear(m.member ?? undefined);
        return;
    }
  }

  #send = (): void => {
    this.#scheduled = null;
    for (let index = 0; index < this.#count; index++) {
      const messages = this.#messagesFor(index);
      if (messages.length === 0) continue;
      this.counts.toWorkers.messages++;
      this.#post(index, messages);
    }
    for (const m of this.#mirrors.values()) {
      m.pending.clear();
      m.clears = [];
    }
  };

  /** The changes worker `index` has not made itself. */
  #messagesFor(index: number): SyncMessage[] {
    const out: SyncMessage[] = [];
    for (const m of this.#mirrors.values()) {
      for (const c of m.clears) if (c.from !== index) out.push({ type: 'clear', service: m.service, member: c.member });
      const entries: StickEntryUpdate[] = [];
      const keys: string[] = [];
      for (const [key, c] of m.pending) {
        if (c.from === index) continue;
        if (c.member === null) keys.push(key);
        else entries.push({ key, member: c.member, expiresIn: c.expiresIn });
      }
      if (keys.length > 0) out.push({ type: 'unstick', service: m.service, keys });
      if (entries.length > 0) out.push({ type: 'stick', service: m.service, entries });
      this.counts.toWorkers.entries += entries.length;
    }
    return out;
  }

  #tableOf(name: string): StickTable | null {
    return this.#runtime.services.get(name)?.persistence?.table ?? null;
  }
}

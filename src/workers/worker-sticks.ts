// A worker thread's stick tables (source-ip, tls-session) kept the same as every other
// thread's, with the ha link's own state machinery (ha/sync-state.ts) and messages: what this
// worker's clients add is gathered and sent to the main thread at the next turn of the loop (a
// key changed many times in one turn travels once); what the main thread sends — other workers'
// entries, an ha peer's, an operator's deletions — is applied without being reported back, so an
// entry never returns to where it came from. The hits and misses of this worker's lookups go
// with the changes (a lookup is followed by one: a pick, a refresh, a learned session), so the
// main thread's table counts every worker's. What is pending also goes before the worker answers
// an ask of the main thread (sendPending): an answer is then never ahead of the changes made
// before it, though the next ask may come in the same turn, before the scheduled send (a thread
// reads every message waiting at once). The main thread's side is stick-relay.ts.

import { SyncState } from '../ha/sync-state.ts';
import type { SyncMessage } from '../ha/sync-frame.ts';
import type { StickTable } from '../persistence/stick-table.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { StickLookups } from './messages.ts';

export class WorkerSticks {
  readonly #runtime: Runtime;
  readonly #state: SyncState;
  /** posts this worker's changes and lookups to the main thread (worker-main.ts sets it) */
  send: (messages: SyncMessage[], lookups: StickLookups[]) => void = () => {};
  #scheduled: NodeJS.Immediate | null = null;
  /** each table's hits and misses as last sent */
  readonly #sent = new WeakMap<StickTable, { hits: number; misses: number }>();

  constructor(runtime: Runtime, index: number) {
    this.#runtime = runtime;
    this.#state = new SyncState(runtime, `worker ${index}`);
    // the main thread is always there: every change is kept for it
    this.#state.recording = true;
    this.#state.onChange = this.#schedule;
  }

  /**
   * After the worker's runtime applied a config (before its listeners take clients): watches
   * the tables a reload made, and takes `entries` (a new worker: the main thread's tables).
   */
  applied(entries: readonly SyncMessage[] | undefined): void {
    this.#state.watchTables();
    if (entries !== undefined) this.take(entries);
  }

  /** What the main thread sent: applied here, not sent back. */
  take(messages: readonly SyncMessage[]): void {
    for (const m of messages) this.#state.apply(m);
  }

  close(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    this.#state.onChange = null;
    this.#state.close();
  }

  /** Sends now what waits for the next turn of the loop, if anything: before an answer to the main thread. */
  sendPending(): void {
    if (this.#scheduled === null) return;
    clearImmediate(this.#scheduled);
    this.#flush();
  }

  #schedule = (): void => {
    this.#scheduled ??= setImmediate(this.#flush);
  };

  #flush = (): void => {
    this.#scheduled = null;
    const { messages } = this.#state.flush();
    const lookups = this.#lookups();
    if (messages.length > 0 || lookups.length > 0) this.send(messages, lookups);
  };

  /** The hits and misses of each table since they were last sent. */
  #lookups(): StickLookups[] {
    const out: StickLookups[] = [];
    for (const service of this.#runtime.services.values()) {
      const table = service.persistence?.table;
      if (table == null) continue;
      const { hits, misses } = table.counters;
      const sent = this.#sent.get(table) ?? { hits: 0, misses: 0 };
      if (sent.hits === hits && sent.misses === misses) continue;
      out.push([service.name, hits - sent.hits, misses - sent.misses]);
      this.#sent.set(table, { hits, misses });
    }
    return out;
  }
}

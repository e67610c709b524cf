// What the main thread's admin plane asks a worker thread (workers-view.ts), and how the worker
// answers from its own runtime: its counters (worker-report.ts), a part of its connection table,
// or ending connections it holds. One message type each way carries them all.

import type { ConnectionQuery, ConnectionsOf } from '../admin/threads.ts';
import { newestEntries } from '../admin/snapshot.ts';
import type { ConnectionView } from '../admin/schemas.ts';
import { connectionView } from '../admin/views.ts';
import type { ConnectionEntry, ConnectionFilter } from '../runtime/connection-table.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { LoopDelayMonitor } from './loop-delay.ts';
import { emptyReport, Reporter, type WorkerReport } from './worker-report.ts';

export type AdminAsk =
  | { kind: 'report' }
  | { kind: 'connections'; query: ConnectionQuery }
  | { kind: 'end'; id: number }
  | { kind: 'end-all'; of: ConnectionsOf };

export type AdminAnswer =
  /** loop: the longest the worker's event loop was late (s) since its previous report */
  | { kind: 'report'; report: WorkerReport; loop: number }
  /** total: how many match; items: `take` of them, each with the worker's index */
  | { kind: 'connections'; total: number; items: ConnectionView[] }
  | { kind: 'ended'; ended: number }
  /** the worker could not answer (a bug: the main thread logs it) */
  | { kind: 'failed'; reason: string };

/** A worker's side: answers from its runtime (null until its first config). */
export class AdminAnswers {
  readonly #index: number;
  #reporter: Reporter | null = null;
  readonly #loop = new LoopDelayMonitor();

  constructor(index: number) {
    this.#index = index;
  }

  answer(runtime: Runtime | null, ask: AdminAsk): AdminAnswer {
    switch (ask.kind) {
      case 'report':
        if (runtime === null) return { kind: 'report', report: emptyReport(), loop: this.#loop.take() };
        this.#reporter ??= new Reporter(runtime);
        return { kind: 'report', report: this.#reporter.report(), loop: this.#loop.take() };
      case 'connections':
        return { kind: 'connections', ...this.#list(runtime, ask.query) };
      case 'end': {
        const entry = runtime?.connections.get(ask.id);
        entry?.terminate();
        return { kind: 'ended', ended: entry === undefined ? 0 : 1 };
      }
      case 'end-all': {
        // the list is taken first: an entry may leave the table while it ends
        const entries = runtime === null ? [] : [...matching(runtime, ask.of)];
        for (const entry of entries) entry.terminate();
        return { kind: 'ended', ended: entries.length };
      }
    }
  }

  #list(runtime: Runtime | null, query: ConnectionQuery): { total: number; items: ConnectionView[] } {
    if (runtime === null) return { total: 0, items: [] };
    const view = (e: ConnectionEntry): ConnectionView => ({ ...connectionView(e, query.showQuery), worker: this.#index });
    let total = 0;
    if (query.newest) {
      const counted = function* (): Generator<ConnectionEntry> {
        for (const entry of matching(runtime, query)) {
          total++;
          yield entry;
        }
      };
      const items = newestEntries(counted(), query.take).map(view);
      return { total, items };
    }
    const items: ConnectionView[] = [];
    for (const entry of matching(runtime, query)) {
      if (items.length < query.take) items.push(view(entry));
      total++;
    }
    return { total, items };
  }
}

/** The entries the filters select, as the API's routes select them (api-connections.ts). */
function* matching(runtime: Runtime, of: ConnectionsOf): Generator<ConnectionEntry> {
  const filter: ConnectionFilter = {};
  if (of.service !== undefined) filter.service = of.service;
  if (of.member !== undefined) {
    const member = runtime.member(of.pool ?? '', of.member);
    if (member === undefined) return;
    filter.member = member;
  }
  for (const entry of runtime.connections.list(filter)) {
    if (of.pool === undefined || entry.member?.poolName === of.pool) yield entry;
  }
}

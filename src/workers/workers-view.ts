// The worker threads as the main thread's admin plane reads them (admin/threads.ts DataThreads).
//
// Counters: pulled when read, not pushed as they change. The API, /metrics and the dashboard's
// tick each call refresh() first: one message to every worker, which answers with what its
// counters grew by since it was last asked (worker-report.ts); the growth is added to the main
// thread's own members, pools, connection totals and request counts, so every reader of the
// runtime shows the sums as it shows one loop's counts. Live figures (bytes of open
// connections, connections per service, clients queued) are the workers' as of that refresh.
// Why pulled: the data path pays nothing (no shared write per connection, no message per
// request), the counters it keeps anyway are the ones read, and an answer is as fresh as the
// question: a refresh is one round trip per worker (well under a millisecond when idle).
//
// Connections: each worker keeps its own table; the API asks every worker for its part (bounded
// by the page asked for) and merges them, oldest first. Ids are unique across the threads
// (connection-ids.ts), so ending one by id goes to the one worker whose range it is in.

import type { ConnectionQuery, ConnectionsOf, DataThreads, ThreadsLive } from '../admin/threads.ts';
import { addClients, type HttpClients } from '../admin/traffic.ts';
import type { ConnectionView } from '../admin/schemas.ts';
import type { Logger } from '../log.ts';
import type { Member } from '../runtime/member.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { AdminAnswer, AdminAsk } from './admin-asks.ts';
import { laneOf } from './connection-ids.ts';
import { addReport, type WorkerReport } from './worker-report.ts';

/** The longest an answer is awaited: a worker stuck in a loop (a bug) must not hold the API for good. A late report is still added when it comes. */
const ANSWER_WAIT = 5_000;

/** ThreadsLive while a refresh fills it. */
interface Live {
  bytes: Map<Member, { in: number; out: number }>;
  services: Map<string, number>;
  httpClients: Map<string, HttpClients>;
  queued: Map<string, number>;
  connections: number;
}

/** A worker asked, and its answer to come: null when it exited before answering. */
export interface Asked {
  index: number;
  answer: Promise<AdminAnswer | null>;
}

/** What the view needs of WorkerThreads. */
export interface AskThreads {
  /** asks every live worker */
  askEach(ask: AdminAsk): Asked[];
  /** asks the live worker whose connection ids are in `lane`; null when none is */
  askLane(lane: number, ask: AdminAsk): Asked | null;
}

export class WorkersView implements DataThreads {
  readonly #threads: AskThreads;
  readonly #runtime: Runtime;
  readonly #log: Logger;
  /** the longest each worker's loop was late (s) in its reports since takeLoopDelays() */
  #loopDelays = new Map<number, number>();
  #live: ThreadsLive = { bytes: new Map(), services: new Map(), httpClients: new Map(), queued: new Map(), connections: 0 };

  constructor(threads: AskThreads, runtime: Runtime, log: Logger) {
    this.#threads = threads;
    this.#runtime = runtime;
    this.#log = log;
  }

  async refresh(): Promise<void> {
    const live: Live = { bytes: new Map(), services: new Map(), httpClients: new Map(), queued: new Map(), connections: 0 };
    const latency = new Map<Member, { sum: number; n: number }>();
    const added = this.#threads.askEach({ kind: 'report' }).map(({ index, answer }) => answer.then((a) => {
      const answered = this.#answer(index, a, 'report');
      if (answered === null) return;
      const report = answered.report;
      // reports come every second for the dashboard's rates too: the longest since the last scrape is kept
      this.#loopDelays.set(index, Math.max(this.#loopDelays.get(index) ?? 0, answered.loop));
      // added as it comes, even after the wait: what a worker counted is never lost to a slow answer
      try {
        addReport(this.#runtime, report);
        this.#addLive(live, latency, report);
      } catch (err) {
        this.#log.error({ worker: index, err }, 'the counters of a worker thread could not be added');
      }
    }));
    await settled(added);
    // the connect time a member shows is the mean of the workers that measured one
    for (const [member, { sum, n }] of latency) member.latency = sum / n;
    this.#live = live;
  }

  live(): ThreadsLive {
    return this.#live;
  }

  takeLoopDelays(): Map<number, number> {
    const delays = this.#loopDelays;
    this.#loopDelays = new Map();
    return delays;
  }

  async connections(query: ConnectionQuery): Promise<{ total: number; items: ConnectionView[] }[]> {
    const asked = this.#threads.askEach({ kind: 'connections', query });
    const answers = await settled(asked.map(({ index, answer }) => answer.then((a) => this.#answer(index, a, 'connections'))));
    return answers.flatMap((a) => (a == null ? [] : [{ total: a.total, items: a.items }]));
  }

  async end(id: number): Promise<{ ended: number; worker: number } | null> {
    const lane = laneOf(id);
    if (lane === 0) return null;
    const asked = this.#threads.askLane(lane, { kind: 'end', id });
    if (asked === null) return null;
    const [answer] = await settled([asked.answer.then((a) => this.#answer(asked.index, a, 'ended'))]);
    return { ended: answer?.ended ?? 0, worker: asked.index };
  }

  async endAll(of: ConnectionsOf): Promise<number> {
    const asked = this.#threads.askEach({ kind: 'end-all', of });
    const answers = await settled(asked.map(({ index, answer }) => answer.then((a) => this.#answer(index, a, 'ended'))));
    return answers.reduce((n, a) => n + (a?.ended ?? 0), 0);
  }

  #addLive(live: Live, latency: Map<Member, { sum: number; n: number }>, report: WorkerReport): void {
    live.connections += report.connections;
    for (const s of report.services) if (s.live > 0) live.services.set(s.name, (live.services.get(s.name) ?? 0) + s.live);
    for (const c of report.httpClients) addClients(live.httpClients, c.service, c.http1, c.http2);
    for (const p of report.pools) if (p.queued > 0) live.queued.set(p.name, (live.queued.get(p.name) ?? 0) + p.queued);
    for (const r of report.members) {
      const m = this.#runtime.member(r.pool, r.id);
      if (m === undefined) continue;
      if (r.liveIn > 0 || r.liveOut > 0) {
        const b = live.bytes.get(m);
        if (b === undefined) live.bytes.set(m, { in: r.liveIn, out: r.liveOut });
        else {
          b.in += r.liveIn;
          b.out += r.liveOut;
        }
      }
      if (r.latency > 0) {
        const l = latency.get(m);
        if (l === undefined) latency.set(m, { sum: r.latency, n: 1 });
        else {
          l.sum += r.latency;
          l.n++;
        }
      }
    }
  }

  /** The answer if it is of the kind asked; a worker's failure to answer is logged. */
  #answer<K extends AdminAnswer['kind']>(index: number, answer: AdminAnswer | null, kind: K): Extract<AdminAnswer, { kind: K }> | null {
    if (answer === null) return null;
    if (answer.kind === 'failed') {
      this.#log.error({ worker: index, reason: answer.reason }, 'a worker thread could not answer the admin plane');
      return null;
    }
    return answer.kind === kind ? (answer as Extract<AdminAnswer, { kind: K }>) : null;
  }
}

/** Each promise's value, or null for those not settled within ANSWER_WAIT. */
async function settled<T>(promises: Promise<T | null>[]): Promise<(T | null)[]> {
  const values: (T | null)[] = promises.map(() => null);
  let timer: NodeJS.Timeout | undefined;
  const wait = new Promise<void>((resolve) => (timer = setTimeout(resolve, ANSWER_WAIT)));
  await Promise.race([Promise.all(promises.map((p, i) => p.then((v) => void (values[i] = v)))), wait]);
  clearTimeout(timer);
  return [...values];
}

// The control/data split (issue 14), as it runs with `global.workers` above 1.
//
// Control side, the main thread, once per process: config and reload, health checks and agents,
// the admin API and dashboard, the kernel plane (nat, dsr) and the ha plane. It keeps the one
// Runtime every control plane reads; its members' states are the truth. Data side, N worker
// threads (data-side.ts): each builds its own Runtime from the config the main thread sends,
// holding only the tcp, http and udp services, and binds each of them with SO_REUSEPORT, so the
// kernel spreads connections and udp flows over the workers and keeps each on one (a udp flow
// by its client's address:port; each worker has its own flow table, udp-share.ts).
//
// What crosses, and how:
// - config: an 'apply' message on start and on every reload, with the ports the main thread
//   bound (WorkersListener: it binds first, so port 0 becomes one real port for every worker,
//   and lets go once every worker is bound) and the members' counter slots and states. After the
//   first, only the services and pools that changed, and their members' slots and states
//   (config-delta.ts).
// - member states (health, admin, agent, weight, slow start, limits): decided in the main
//   thread; the changes (runtime 'member' events) go to every worker batched, one 'members'
//   message per turn of the main thread's loop.
// - the counts that decide (active per member): one Int32 per member in shared memory
//   (runtime/shared-counters.ts); a pick takes its place with a compare-and-swap under the
//   limit, so max-connections holds across workers and least-connections sees every worker's
//   connections. Each worker also keeps its own share of each count (worker-counters.ts), so the
//   counts of a worker that dies are given back when it is replaced.
// - passive health: a worker reports its members' failures of real traffic (passive-relay.ts);
//   the main thread's PassiveHealth counts them (passive-intake.ts) and decides, and its
//   ejection reaches every worker with the member's state (MemberMirror `ejected`).
// - the pools' queues: each thread queues its own clients; a place freed on any thread wakes the
//   threads with clients queued, and the oldest client is served first (runtime/shared-queue.ts,
//   queue-slots.ts).
// - stop: a 'stop' message with the grace period; each worker stops as the one loop does.
// - max-connections-per-client: one table of counts per client address per capped service, in
//   shared memory (runtime/shared-client-table.ts, client-tables.ts), so the cap holds for the
//   process; a dead worker's share of it is given back.
// - rate-limit: each limit's token buckets in one table in shared memory, made by the main
//   thread's service and sent with the config (runtime/shared-rate-table.ts, rate-tables.ts), so a
//   client's burst is the process's; the admin API reads the same tables in the main thread.
// - udp drops: summed in shared memory (udp-drops.ts), read by the main thread's WorkersListener.
// - stick tables (source-ip, tls-session): each worker keeps a copy; what one learns goes to
//   the main thread, whose table is the union (the API and the ha link read it), and on to the
//   other workers, batched per turn of the loop (worker-sticks.ts, stick-relay.ts).
// - the process's secrets (cookie signing, TLS ticket keys): made once here, given to each
//   worker as it starts (runtime/process-secrets.ts).
// - what the admin plane reads (counters, the connection table) and ending connections: an
//   'admin' message, asked when read (workers-view.ts); connection ids are unique across threads.
// Not split yet (the next step): the balance-per tables of udp services (per worker,
// udp-share.ts).

import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { Member } from '../runtime/member.ts';
import type { Pool } from '../runtime/pool.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { processSecrets } from '../runtime/process-secrets.ts';
import { CounterSlots, MAX_SLOTS } from '../runtime/shared-counters.ts';
import type { AdminAnswer, AdminAsk } from './admin-asks.ts';
import { firstIdOf, LANES } from './connection-ids.ts';
import { deltaOf, type ConfigDelta, type WorkerConfig } from './config-delta.ts';
import { mirrorOf, slotKey, type ApplyMessage, type MemberMirror, type FromWorker, type ToWorker, type WorkerStart, type WorkerStats } from './messages.ts';
import { PassiveIntake } from './passive-intake.ts';
import { StickRelay } from './stick-relay.ts';
import { returnShare } from './worker-counters.ts';
import { QueueSlots, shareQueues } from './queue-slots.ts';
import { ClientTables } from './client-tables.ts';
import { rateTablesOf } from './rate-tables.ts';
import { forWorker, workerShare, type UdpForWorkers } from './udp-share.ts';

/** The worker's entry: TypeScript in a checkout, the built JavaScript in the installed package. */
const WORKER_MAIN = new URL(import.meta.url.endsWith('.ts') ? './worker-main.ts' : './worker-main.js', import.meta.url);
import { WorkersView, type Asked, type AskThreads } from './workers-view.ts';

/** How long after the grace a worker that has not stopped is ended (ms). */
const STOP_MARGIN = 5_000;

/** The modes the workers serve; the others stay in the main thread. */
export function servedByWorkers(mode: string): boolean {
  return mode === 'tcp' || mode === 'http' || mode === 'udp';
}

interface Thread {
  readonly index: number;
  /** its range of connection ids (connection-ids.ts) */
  readonly lane: number;
  readonly worker: Worker;
  readonly own: SharedArrayBuffer;
  /** answers awaited, by sequence number; each gets null if the worker exits first */
  readonly pending: Map<number, (message: FromWorker | null) => void>;
  /** it has applied a config once: a worker that dies after that is replaced (one that never could start is not) */
  started: boolean;
  exited: boolean;
  /** it replaces one that died: how many in a row died before serving (for the backoff) */
  readonly attempt: number;
  /** the config last sent to it, which the next is sent as a change of (null: none yet) */
  holds: WorkerConfig | null;
}

export class WorkerThreads extends EventEmitter<{ replaced: [index: number] }> implements AskThreads {
  /** the worker threads (fixed at start: a changed global.workers applies at the next start) */
  readonly count: number;
  readonly slots = new CounterSlots();
  /** the pools' shared queues: the workers, and the main thread as the last (it serves udp) */
  readonly queues: QueueSlots;
  /** the stick tables of the services the workers serve, kept the same in every thread */
  readonly sticks: StickRelay;
  /** what the admin plane reads of the workers: their counters and connections */
  readonly view: WorkersView;
  /** the counts per client address of the services that cap their clients (client-tables.ts) */
  readonly clientTables: ClientTables;
  readonly #runtime: Runtime;
  readonly #log: Logger;
  readonly #threads: Thread[] = [];
  /** counts the workers' passive health reports: this thread decides ejections (passive-intake.ts) */
  readonly #passive = new PassiveIntake();
  /** the last config sent, whole, without the member states (those are read fresh for each send) */
  #last: (Omit<ApplyMessage, 'seq' | 'states' | 'config' | 'slots'> & { config: WorkerConfig }) | null = null;
  /** the change from one config to the next, made once for every thread that holds the first */
  #delta: { from: WorkerConfig | null; to: WorkerConfig; delta: ConfigDelta } | null = null;
  /** members whose state changed since the last 'members' message (sent once per turn of the loop) */
  #changed = new Set<Member>();
  #flushScheduled = false;
  /** each pool's members as the last assignSlots() placed them, and their slots in that order */
  readonly #placed = new Map<string, { members: readonly Member[]; slots: number[] }>();
  /** the pools' queue blocks of the last assignSlots() */
  #queueSlots: [string, number][] = [];
  #seq = 0;
  /** the lane of the thread started last */
  #lane = 0;
  #stopping = false;
  readonly #onMember = (member: Member): void => {
    // a reload changes thousands of weights at once: one message per turn, not one per change
    this.#changed.add(member);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(this.#flushStates);
  };
  /** the states are read when sent, not when changed: the latest, whatever the order of changes */
  readonly #flushStates = (): void => {
    this.#flushScheduled = false;
    if (this.#changed.size === 0) return;
    const states: MemberMirror[] = [];
    for (const member of this.#changed) states.push(mirrorOf(member));
    this.#changed.clear();
    const message: ToWorker = { type: 'members', states };
    for (const t of this.#threads) t.worker.postMessage(message);
  };

  constructor(count: number, runtime: Runtime, log: Logger) {
    super();
    if (workersDenied()) throw new Error(`global.workers: ${count} needs worker threads, which Node's permission model denies: add --allow-worker, or set global.workers to 1`);
    this.count = count;
    this.#runtime = runtime;
    this.#log = log;
    this.queues = new QueueSlots(count + 1);
    this.clientTables = new ClientTables(count);
    runtime.events.on('member', this.#onMember);
    this.sticks = new StickRelay(runtime, count, (index, messages) => this.#threads[index].worker.postMessage({ type: 'sticks', messages } satisfies ToWorker));
    this.view = new WorkersView(this, runtime, log);
    for (let i = 0; i < count; i++) this.#threads.push(this.#spawn(i));
  }



  /**
   * Gives every member of the main thread's runtime its counter slot: call it right after
   * runtime.apply(), before any listener of this thread counts on a new member. Only pools whose
   * members changed (a new members list: Pool.reconfigure, or a new pool) are placed again; the
   * others keep their slots without being looked at member by member.
   */
  assignSlots(): void {
    const pools = this.#runtime.pools;
    const gone: string[] = [];
    const goneSlots: number[] = [];
    for (const [name, was] of this.#placed) {
      if (pools.get(name)?.members === was.members) continue;
      for (let i = 0; i < was.members.length; i++) {
        gone.push(slotKey(name, was.members[i].id));
        goneSlots.push(was.slots[i]);
      }
    }
    const changed: Pool[] = [];
    const added: string[] = [];
    for (const pool of pools.values()) {
      if (this.#placed.get(pool.name)?.members === pool.members) continue;
      changed.push(pool);
      for (const m of pool.members) added.push(slotKey(pool.name, m.id));
    }
    const slots = this.slots.change(gone, added);
    const placed: [Member, Pool, number][] = [];
    let at = 0;
    for (const pool of changed) {
      const start = at;
      for (const m of pool.members) {
        const slot = slots[at++];
        m.shareCount(this.slots.counters, slot);
        placed.push([m, pool, slot]);
      }
      this.#placed.set(pool.name, { members: pool.members, slots: slots.slice(start, at) });
    }
    for (const name of this.#placed.keys()) if (!pools.has(name)) this.#placed.delete(name);
    this.#passive.place(goneSlots, placed);
    this.#queueSlots = this.queues.assign(this.#runtime.pools.keys());
    shareQueues(this.#runtime, { buffer: this.queues.buffer, threads: this.count + 1, self: this.count }, this.#queueSlots);
  }

  /**
   * Sends the config to every worker, its tcp, http and udp services on the ports the main thread
   * bound (`ports`), and waits until each has applied it. Returns the problems, once each.
   * `maxConnections`: the process's budget of client connections (fd-budget.ts), shared out evenly;
   * `udp`: the flows that budget allows each udp service (shared out too), and where each udp
   * service's drops are counted (udp-drops.ts).
   */
  async apply(config: Config, ports: ReadonlyMap<string, number>, maxConnections: number, udp: UdpForWorkers = { flows: Infinity, drops: new Map() }): Promise<string[]> {
    const services: Config['services'] = {};
    for (const [name, sc] of Object.entries(config.services)) {
      const port = ports.get(name);
      if (servedByWorkers(sc.mode) && port !== undefined) services[name] = { ...forWorker(sc, this.count), listen: { ...sc.listen, port } };
    }
    // the workers need no admin, ha or kernel sections: the main thread runs those
    const share = workerShare(maxConnections, this.count);
    this.#last = {
      type: 'apply', config: { global: config.global, logs: config.logs, services, pools: config.pools }, maxConnections: share,
      udpFlows: workerShare(udp.flows, this.count), udpDrops: [...udp.drops], queues: this.#queueSlots,
      clientTables: this.clientTables.assign(config, maxConnections),
      rateTables: rateTablesOf(this.#runtime),
    };
    this.sticks.watchTables(Object.keys(services));
    const answers = await Promise.all(this.#threads.map((t) => this.#applyOn(t)));
    this.slots.sweep();
    this.queues.sweep();
    const failures = new Set<string>();
    answers.forEach((answer, index) => {
      if (answer === null) failures.add(`worker ${index} exited before it applied the config`);
      else if (answer.type === 'applied') for (const f of answer.failures) failures.add(f);
    });
    return [...failures];
  }

  /** What each worker has served (tests, and to see the spread). */
  async stats(): Promise<WorkerStats[]> {
    const answers = await Promise.all(this.#threads.map((t) => this.#ask(t, (seq) => ({ type: 'stats', seq }))));
    return answers.flatMap((a) => (a !== null && a.type === 'stats' ? [a.stats] : []));
  }

  askEach(ask: AdminAsk): Asked[] {
    return this.#threads.map((t) => ({ index: t.index, answer: this.#askAdmin(t, ask) }));
  }

  askLane(lane: number, ask: AdminAsk): Asked | null {
    const thread = this.#threads.find((t) => t.lane === lane && !t.exited);
    return thread === undefined ? null : { index: thread.index, answer: this.#askAdmin(thread, ask) };
  }

  async #askAdmin(thread: Thread, ask: AdminAsk): Promise<AdminAnswer | null> {
    if (thread.exited) return null;
    const answer = await this.#ask(thread, (seq) => ({ type: 'admin', seq, ask }));
    return answer?.type === 'admin' ? answer.answer : null;
  }

  /** Tells every worker to reopen its log files (SIGUSR1). */
  reopenLogs(): void {
    this.#post({ type: 'reopen-logs' });
  }

  /** The worker thread at `index` (tests end one to see it replaced). */
  thread(index: number): Worker {
    return this.#threads[index].worker;
  }

  /**
   * Tells every worker to stop with `grace` ms for its live connections; resolves once all have
   * exited (those already leaving after a reload too, ended if they need more than this grace).
   */
  async stop(grace: number): Promise<void> {
    this.#stopping = true;
    this.#runtime.events.off('member', this.#onMember);
    this.sticks.close();
    await Promise.all(this.#threads.map(async (t) => {
      if (t.exited) return;
      const exited = new Promise((resolve) => t.worker.once('exit', resolve));
      t.worker.postMessage({ type: 'stop', grace } satisfies ToWorker);
      // a worker that does not finish its stop (a bug) is ended a little after the grace
      const overdue = setTimeout(() => void t.worker.terminate(), grace + STOP_MARGIN);
      await exited;
      clearTimeout(overdue);
    }));
  }

  #spawn(index: number, attempt = 0): Thread {
    const lane = this.#nextLane();
    const start: WorkerStart = {
      index, counters: this.slots.buffer, own: new SharedArrayBuffer(MAX_SLOTS * 4), passive: this.#passive.buffer,
      queues: this.queues.buffer, queueThreads: this.count + 1, secrets: processSecrets(), firstId: firstIdOf(lane),
    };
    const worker = new Worker(WORKER_MAIN, { workerData: start });
    const thread: Thread = { index, lane, worker, own: start.own, pending: new Map(), started: false, exited: false, attempt, holds: null };
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'passive') return this.#passiveReports(index, message.reports);
      if (message.type === 'stopped') {
        // its listeners and connections are closed: whatever else keeps its loop alive ends here
        void worker.terminate();
        return;
      }
      if (message.type === 'sticks') {
        this.sticks.fromWorker(index, message.messages, message.lookups);
        return;
      }
      if (message.type === 'applied') thread.started = true;
      const answer = thread.pending.get(message.seq);
      thread.pending.delete(message.seq);
      answer?.(message);
    });
    worker.on('error', (err) => this.#log.error({ worker: index, err }, 'worker thread failed'));
    worker.on('exit', (code) => this.#exited(thread, code));
    return thread;
  }

  #passiveReports(index: number, reports: number[]): void {
    try {
      this.#passive.take(reports);
    } catch (err) {
      // a bug in a handler of the change: the worker's message callback must not throw
      this.#log.error({ worker: index, err }, 'passive health reports of a worker failed');
    }
  }

  #exited(thread: Thread, code: number): void {
    thread.exited = true;
    for (const answer of thread.pending.values()) answer(null);
    thread.pending.clear();
    // its connections are gone: the counts it held are given back
    const returned = returnShare(this.slots.buffer, thread.own);
    // and its clients' places under max-connections-per-client
    this.clientTables.reclaim(thread.index);
    // its queued clients are gone too, and the places it held are free: the others are woken
    this.queues.forget(thread.index);
    if (this.#stopping) return;
    if (!thread.started && thread.attempt === 0) {
      // one of the first threads could not start: the start fails with it (a new one would not either)
      this.#log.error({ worker: thread.index, code }, 'worker thread exited before it served; not restarted');
      return;
    }
    if (!thread.started) {
      // a replacement died before it served: tried again, later and later (1 s, 2 s, ... 30 s)
      const wait = Math.min(30_000, 1_000 * 2 ** (thread.attempt - 1));
      this.#log.error({ worker: thread.index, code, retryIn: wait }, 'new worker thread exited before it served; trying again');
      const timer = setTimeout(() => {
        if (!this.#stopping && this.#threads[thread.index] === thread) this.#replace(thread, thread.attempt + 1);
      }, wait);
      timer.unref();
      return;
    }
    this.#log.error({ worker: thread.index, code, connectionsLost: returned }, 'worker thread exited; starting a new one');
    this.#replace(thread, 1);
  }

  /** Starts a thread in the place of `thread` and gives it the config in force. */
  #replace(thread: Thread, attempt: number): void {
    // called from a worker's exit event or a timer: a thread that cannot be made must not throw there
    let next: Thread;
    try {
      next = this.#spawn(thread.index, attempt);
    } catch (err) {
      this.#log.error({ worker: thread.index, err }, 'cannot start a new worker thread; the others serve on');
      return;
    }
    this.#threads[thread.index] = next;
    if (this.#last === null) return;
    void this.#applyOn(next).then((answer) => {
      if (answer === null) return;
      if (answer.type === 'applied' && answer.failures.length > 0) this.#log.error({ worker: next.index, failures: answer.failures }, 'new worker thread cannot serve');
      else this.#log.info({ worker: next.index }, 'new worker thread serving');
      this.emit('replaced', next.index);
    });
  }

  /** The next lane no live thread has, in turn: a new thread does not give the ids a dead one gave. */
  #nextLane(): number {
    do this.#lane = (this.#lane % (LANES - 1)) + 1;
    while (this.#threads.some((t) => t.lane === this.#lane && !t.exited));
    return this.#lane;
  }

  #applyOn(thread: Thread): Promise<FromWorker | null> {
    const { config, ...last } = this.#last!;
    // (#ask sends the states changed before this config first: the config's own come with it)
    const delta = this.#deltaFor(thread.holds, config);
    thread.holds = config;
    // the slots and states of the members of the pools sent; the others' are in the worker already
    const slots: [string, number][] = [];
    const states: MemberMirror[] = [];
    for (const name of Object.keys(delta.pools)) {
      const pool = this.#runtime.pools.get(name);
      if (pool === undefined) continue;
      for (const m of pool.members) {
        const key = slotKey(pool.name, m.id);
        slots.push([key, this.slots.slotOf(key)!]);
        states.push(mirrorOf(m));
      }
    }
    // a worker's first config comes with the entries known (none at start; a replacement's: what the others learned)
    const sticks = thread.started ? undefined : this.sticks.snapshot();
    return this.#ask(thread, (seq) => ({ ...last, config: delta, slots, seq, states, sticks }));
  }

  #deltaFor(from: WorkerConfig | null, to: WorkerConfig): ConfigDelta {
    const made = this.#delta;
    if (made !== null && made.from === from && made.to === to) return made.delta;
    const delta = deltaOf(from, to);
    this.#delta = { from, to, delta };
    return delta;
  }

  #ask(thread: Thread, message: (seq: number) => ToWorker): Promise<FromWorker | null> {
    // a thread that exited answers nothing (its replacement, if any, is asked next time)
    if (thread.exited) return Promise.resolve(null);
    // what is asked after a change sees it: an operator's disable, then the counters read at once
    this.#flushStates();
    const seq = ++this.#seq;
    return new Promise((resolve) => {
      thread.pending.set(seq, resolve);
      thread.worker.postMessage(message(seq));
    });
  }

  #post(message: ToWorker): void {
    this.#flushStates();
    for (const t of this.#threads) t.worker.postMessage(message);
  }
}

/**
 * How many worker threads `global.workers` asks for: 'auto' is the cores this process may run
 * on, or 1 where Node's permission model denies worker threads (--permission without --allow-worker).
 */
export function workerCount(workers: number | 'auto' | undefined): number {
  if (workers === 'auto') return workersDenied() ? 1 : availableParallelism();
  return workers ?? 1;
}

function workersDenied(): boolean {
  return process.permission?.has('worker') === false;
}

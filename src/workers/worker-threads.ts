// The control/data split (issue 14), as it runs with `global.workers` above 1.
//
// Control side, the main thread, once per process: config and reload, health checks and agents,
// the admin API and dashboard, the kernel plane (nat, dsr), the ha plane, and the udp services
// (not split yet). It keeps the one Runtime every control plane reads; its members' states are
// the truth. Data side, N worker threads (data-side.ts): each builds its own Runtime from the
// config the main thread sends, holding only the tcp and http services, and binds each of them
// with SO_REUSEPORT, so the kernel spreads connections over the workers and keeps each on one.
//
// What crosses, and how:
// - config: an 'apply' message on start and on every reload, with the ports the main thread
//   bound (WorkersListener: it binds first, so port 0 becomes one real port for every worker,
//   and lets go once every worker is bound) and the members' counter slots and states.
// - member states (health, admin, agent, weight, slow start, limits): decided in the main
//   thread; each change is sent to every worker as it is announced (runtime 'member' events).
// - the counts that decide (active per member): one Int32 per member in shared memory
//   (runtime/shared-counters.ts); a pick takes its place with a compare-and-swap under the
//   limit, so max-connections holds across workers and least-connections sees every worker's
//   connections. Each worker also keeps its own share of each count (worker-counters.ts), so the
//   counts of a worker that dies are given back when it is replaced.
// - stop: a 'stop' message with the grace period; each worker stops as the one loop does.
// - a reload that changes the count (resize, count-change.ts): new workers get the config and bind
//   like the others; workers beyond the new count get a 'stop' with the grace and leave.
// Not split yet (the next step): udp services (they run in the main thread), persistence tables
// and queues (per worker), passive health (each worker ejects on its own traffic), the API's
// connection table and totals (the main thread's own, so tcp and http show none).

import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { Member } from '../runtime/member.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { CounterSlots, MAX_SLOTS } from '../runtime/shared-counters.ts';
import { mirrorOf, slotKey, type ApplyMessage, type MemberMirror, type FromWorker, type ToWorker, type WorkerStart, type WorkerStats } from './messages.ts';
import { returnShare } from './worker-counters.ts';

/** How long after the grace a worker that has not stopped is ended (ms). */
const STOP_MARGIN = 5_000;

/** The modes the workers serve; the others stay in the main thread. */
export function servedByWorkers(mode: string): boolean {
  return mode === 'tcp' || mode === 'http';
}

interface Thread {
  readonly index: number;
  readonly worker: Worker;
  readonly own: SharedArrayBuffer;
  /** answers awaited, by sequence number; each gets null if the worker exits first */
  readonly pending: Map<number, (message: FromWorker | null) => void>;
  /** it has applied a config once: a worker that dies after that is replaced (one that never could start is not) */
  started: boolean;
  exited: boolean;
  /** beyond the count since a reload: stopping with the grace, not replaced when it exits */
  retiring: boolean;
}

export class WorkerThreads extends EventEmitter<{ replaced: [index: number] }> {
  readonly slots = new CounterSlots();
  readonly #runtime: Runtime;
  readonly #log: Logger;
  readonly #threads: Thread[] = [];
  /** workers beyond the count since a reload, finishing their connections */
  readonly #retiring = new Set<Thread>();
  /** the last config sent, without the member states (those are read fresh for each send) */
  #last: Omit<ApplyMessage, 'seq' | 'states'> | null = null;
  #seq = 0;
  #stopping = false;
  readonly #onMember = (member: Member): void => this.#post({ type: 'member', state: mirrorOf(member) });

  constructor(count: number, runtime: Runtime, log: Logger) {
    super();
    if (workersDenied()) throw new Error(`global.workers: ${count} needs worker threads, which Node's permission model denies: add --allow-worker, or set global.workers to 1`);
    this.#runtime = runtime;
    this.#log = log;
    runtime.events.on('member', this.#onMember);
    for (let i = 0; i < count; i++) this.#threads.push(this.#spawn(i));
  }

  /** The workers serving (those leaving after a reload that lowered the count are not in it). */
  get count(): number {
    return this.#threads.length;
  }

  /**
   * A reload changed the count: new workers start now and get the config with the next apply();
   * the workers beyond `count` stop accepting at once and get `grace` ms for their connections.
   */
  resize(count: number, grace: number): void {
    while (this.#threads.length < count) this.#threads.push(this.#spawn(this.#threads.length));
    while (this.#threads.length > count) {
      const thread = this.#threads.pop()!;
      thread.retiring = true;
      if (thread.exited) continue;
      this.#retiring.add(thread);
      void this.#stopThread(thread, grace, true);
    }
  }

  /**
   * Gives every member of the main thread's runtime its counter slot: call it right after
   * runtime.apply(), before any listener of this thread counts on a new member.
   */
  assignSlots(): void {
    const keys: string[] = [];
    for (const pool of this.#runtime.pools.values()) for (const m of pool.members) keys.push(slotKey(pool.name, m.id));
    const slots = this.slots.assign(keys);
    for (const pool of this.#runtime.pools.values()) {
      for (const m of pool.members) m.shareCount(this.slots.counters, slots.get(slotKey(pool.name, m.id))!);
    }
  }

  /**
   * Sends the config to every worker, its tcp and http services on the ports the main thread
   * bound (`ports`), and waits until each has applied it. Returns the problems, once each.
   * `maxConnections`: the process's budget of client connections (fd-budget.ts), shared out evenly.
   */
  async apply(config: Config, ports: ReadonlyMap<string, number>, maxConnections: number): Promise<string[]> {
    const services: Config['services'] = {};
    for (const [name, sc] of Object.entries(config.services)) {
      const port = ports.get(name);
      if (servedByWorkers(sc.mode) && port !== undefined) services[name] = { ...sc, listen: { ...sc.listen, port } };
    }
    const slots: [string, number][] = [];
    for (const pool of this.#runtime.pools.values()) {
      for (const m of pool.members) slots.push([slotKey(pool.name, m.id), this.slots.slotOf(slotKey(pool.name, m.id))!]);
    }
    // the workers need no admin, ha or kernel sections: the main thread runs those
    const share = Math.max(1, Math.floor(maxConnections / this.count));
    this.#last = { type: 'apply', config: { global: config.global, services, pools: config.pools }, slots, maxConnections: share };
    const answers = await Promise.all(this.#threads.map((t) => this.#applyOn(t)));
    this.slots.sweep();
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
    const leaving = [...this.#threads.map((t) => this.#stopThread(t, grace, true)), ...[...this.#retiring].map((t) => this.#stopThread(t, grace, false))];
    await Promise.all(leaving);
  }

  async #stopThread(t: Thread, grace: number, tell: boolean): Promise<void> {
    if (t.exited) return;
    const exited = new Promise((resolve) => t.worker.once('exit', resolve));
    if (tell) t.worker.postMessage({ type: 'stop', grace } satisfies ToWorker);
    // a worker that does not finish its stop (a bug) is ended a little after the grace
    const overdue = setTimeout(() => void t.worker.terminate(), grace + STOP_MARGIN);
    await exited;
    clearTimeout(overdue);
  }

  #spawn(index: number): Thread {
    const start: WorkerStart = { index, counters: this.slots.buffer, own: new SharedArrayBuffer(MAX_SLOTS * 4) };
    const worker = new Worker(new URL('./worker-main.ts', import.meta.url), { workerData: start });
    const thread: Thread = { index, worker, own: start.own, pending: new Map(), started: false, exited: false, retiring: false };
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'stopped') {
        // its listeners and connections are closed: whatever else keeps its loop alive ends here
        void worker.terminate();
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

  #exited(thread: Thread, code: number): void {
    thread.exited = true;
    for (const answer of thread.pending.values()) answer(null);
    thread.pending.clear();
    // its connections are gone: the counts it held are given back
    const returned = returnShare(this.slots.buffer, thread.own);
    if (this.#retiring.delete(thread) && !this.#stopping) this.#log.info({ worker: thread.index, code }, 'worker thread beyond global.workers stopped');
    if (this.#stopping || thread.retiring) return;
    if (!thread.started) {
      // it could not start (and a new one would not either): not restarted in a loop
      this.#log.error({ worker: thread.index, code }, 'worker thread exited before it served; not restarted');
      return;
    }
    this.#log.error({ worker: thread.index, code, connectionsLost: returned }, 'worker thread exited; starting a new one');
    const next = this.#spawn(thread.index);
    this.#threads[thread.index] = next;
    if (this.#last === null) return;
    void this.#applyOn(next).then((answer) => {
      if (answer === null) return;
      if (answer.type === 'applied' && answer.failures.length > 0) this.#log.error({ worker: next.index, failures: answer.failures }, 'new worker thread cannot serve');
      else this.#log.info({ worker: next.index }, 'new worker thread serving');
      this.emit('replaced', next.index);
    });
  }

  #applyOn(thread: Thread): Promise<FromWorker | null> {
    const last = this.#last!;
    const states: MemberMirror[] = [];
    for (const pool of this.#runtime.pools.values()) for (const m of pool.members) states.push(mirrorOf(m));
    return this.#ask(thread, (seq) => ({ ...last, seq, states }));
  }

  #ask(thread: Thread, message: (seq: number) => ToWorker): Promise<FromWorker | null> {
    const seq = ++this.#seq;
    return new Promise((resolve) => {
      thread.pending.set(seq, resolve);
      thread.worker.postMessage(message(seq));
    });
  }

  #post(message: ToWorker): void {
    for (const t of this.#threads) t.worker.postMessage(message);
    // a leaving worker's http clients still pick a member per request
    for (const t of this.#retiring) t.worker.postMessage(message);
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

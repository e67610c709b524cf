// furiwake as a running process: the runtime model plus one listener per service.
// start() binds every service; reload() applies a new config (new connections see it, live ones
// keep flowing); stop() stops accepting, lets live connections finish within the grace period,
// then ends the rest.

import { setTimeout as delay } from 'node:timers/promises';
import type { DataThreads } from './admin/threads.ts';
import { AdminPlane } from './admin/plane.ts';
import type { Config } from './config/types.ts';
import { logOutputs, type Logger } from './log.ts';
import { HealthManager } from './health/manager.ts';
import { KernelListener } from './kernel/listener.ts';
import { KernelPlane } from './kernel/plane.ts';
import { kernelNotes } from './config/kernel-schema.ts';
import { HaPlane } from './ha/plane.ts';
import type { Listener } from './proxy/listener.ts';
import { HttpListener } from './proxy/http/http-listener.ts';
import { TcpListener } from './proxy/tcp-listener.ts';
import { UdpListener } from './proxy/udp-listener.ts';
import type { Endpoint } from './runtime/connection-table.ts';
import { clippedFlows, effectiveMaxFlows, fdBudget, readFileLimit, type FdBudget } from './runtime/fd-budget.ts';
import { Runtime } from './runtime/runtime.ts';
import type { Service } from './runtime/service.ts';
import { followSync, type HaSync } from './ha/sync.ts';
import { servedByWorkers, workerCount, WorkerThreads } from './workers/worker-threads.ts';
import { WorkersListener } from './workers/workers-listener.ts';
import { changeWorkerCount } from './workers/count-change.ts';

export interface StartOptions {
  /** reads the config again (the CLI's file), for a reload asked through the admin API */
  load?: () => Promise<Config>;
  /** the clock stick tables expire by (monotonic ms; performance.now by default): tests pass one they move by hand */
  stickClock?: () => number;
}

export class Furiwake {
  readonly runtime: Runtime;
  readonly log: Logger;
  readonly health: HealthManager;
  /** the management plane (admin API, dashboard, metrics) when the config has an admin section */
  readonly admin: AdminPlane;
  /** the active/standby pair (keepalived) when the config has an ha section */
  readonly ha: HaPlane;
  readonly load: (() => Promise<Config>) | null;
  readonly #listeners = new Map<string, Listener>();
  /** nat and dsr services: their rules in the kernel; made with the first such service */
  #kernel: KernelPlane | null = null;
  #stopping: Promise<void> | null = null;
  /** the replication link of an ha pair (ha.sync); null when not configured */
  haSync: HaSync | null = null;
  /** how the process's file descriptors are shared out for the config in force; null: no limit known */
  #budget: FdBudget | null = null;
  /** the reload in progress (or the last one): the next waits for it */
  #reloading: Promise<void> = Promise.resolve();
  /** the worker threads serving tcp and http services (global.workers above 1); null: one loop */
  #workers: WorkerThreads | null = null;

  constructor(log: Logger, options: StartOptions = {}) {
    this.runtime = new Runtime(options.stickClock);
    this.log = log;
    this.health = new HealthManager(this.runtime, log);
    this.load = options.load ?? null;
    this.ha = new HaPlane(this.runtime, log);
    this.admin = new AdminPlane(this);
    this.runtime.events.listenerFailed = (err, event) => {
      this.log.error({ err, event }, 'a handler of a state change failed; the others were told');
    };
    this.runtime.events.on('member', (member, change) => {
      // weights move in small steps during slow start: worth a debug line, not an info line
      const level = change.kind === 'weight' ? 'debug' : 'info';
      this.log[level]({ pool: member.poolName, member: member.id, ...change }, `member ${change.kind} changed`);
    });
  }

  /** Builds the runtime and binds every service; on a bind error nothing stays open. */
  static async start(config: Config, log: Logger, options: StartOptions = {}): Promise<Furiwake> {
    const app = new Furiwake(log, options);
    const { failures, summary } = await app.#apply(config);
    if (failures.length > 0) {
      await app.stop(0);
      throw new Error(failures.join('\n'));
    }
    // only once every listener is bound: a start that fails never says its config was applied
    app.log.info({ summary }, 'config applied');
    return app;
  }

  /** The bound address of a service (its real port when the config says 0). */
  address(service: string): Endpoint {
    const listener = this.#listeners.get(service);
    if (listener === undefined) throw new Error(`no service ${service}`);
    return listener.address();
  }

  /** The listener of a service, for its own counters. */
  listener(service: string): Listener | undefined {
    return this.#listeners.get(service);
  }

  /**
   * Applies a new config. What can be applied is; the problems that remain (a port that cannot
   * be bound, a monitor that cannot run here) are returned, one line each.
   */
  reload(config: Config): Promise<string[]> {
    // one at a time, in the order asked (SIGHUP and the admin API may ask at once): an apply
    // awaits binds and the workers, and two interleaved would leave the workers on the older one
    const run = this.#reloading.then(async () => {
      const { failures, summary } = await this.#apply(config);
      if (this.#stopping === null) this.log.info({ summary }, 'config applied');
      return failures;
    });
    this.#reloading = run.then(() => undefined, () => undefined);
    return run;
  }

  /** The worker threads (global.workers above 1 at start; a reload may change their count); null when one loop serves all. */
  get workers(): WorkerThreads | null {
    return this.#workers;
  }

  /** The worker threads as the admin plane reads them: their counters and connections; null when one loop serves all. */
  get dataThreads(): DataThreads | null {
    return this.#workers?.view ?? null;
  }

  /** The file descriptor budget of the config in force (null where the limit cannot be read). */
  get budget(): FdBudget | null {
    return this.#budget;
  }

  async #apply(config: Config): Promise<{ failures: string[]; summary: string }> {
    // first: the lines that follow, and the first request, go where the config says
    const logProblems = this.#stopping === null ? logOutputs(this.log).apply(config.logs) : [];
    this.#applyBudget(config);
    // before any listener binds: a backup binds the VIPs it does not hold yet
    const haProblem = this.#stopping === null ? this.ha.prepare(config) : null;
    if (haProblem !== null) return { failures: [...logProblems, haProblem], summary: '' };
    const starting = this.runtime.config === null;
    const { listen, unlisten, summary } = this.runtime.apply(config);
    const failures: string[] = [...logProblems];
    const threads = workerCount(config.global.workers);
    if (starting && threads > 1 && this.#stopping === null) this.#workers = new WorkerThreads(threads, this.runtime, this.log);
    if (!starting && this.#stopping === null) {
      const refused = changeWorkerCount(this.#workers, threads);
      if (refused !== null) failures.push(refused);
    }
    // before any listener counts on a new member: with workers, counts live in shared memory
    try {
      this.#workers?.assignSlots();
    } catch (err) {
      failures.push((err as Error).message);
    }
    try {
      this.health.reconcile();
    } catch (err) {
      failures.push((err as Error).message);
    }
    // addresses the workers hold now: they let go of them only with the new config, so a service
    // bound there again by this reload cannot be checked for another program first
    const held = new Set<string>();
    for (const l of this.#listeners.values()) if (l instanceof WorkersListener) held.add(l.key);
    for (const name of unlisten) {
      await this.#listeners.get(name)?.close();
      this.#listeners.delete(name);
    }
    /** services bound for the workers: said listening once the workers are */
    const forWorkers: WorkersListener[] = [];
    for (const service of listen) {
      let listener: Listener;
      try {
        listener = this.#listenerFor(service, held);
      } catch (err) {
        // a stream engine that cannot be had (FURIWAKE_TCP_ENGINE): the others must not stay open
        failures.push(`service ${service.name}: ${(err as Error).message}`);
        continue;
      }
      try {
        await listener.listen();
        this.#listeners.set(service.name, listener);
        if (listener instanceof WorkersListener) {
          forWorkers.push(listener);
          continue;
        }
        const engine = listener instanceof TcpListener ? { engine: listener.engine } : {};
        this.#listening(listener, engine);
      } catch (err) {
        // what the listener opened before the bind failed (a udp socket) closes with it
        if (!(listener instanceof KernelListener)) await listener.close();
        failures.push(`service ${service.name}: cannot listen on ${service.config.listen.host}:${service.config.listen.port}: ${(err as Error).message}`);
      }
    }
    if (this.#workers !== null && this.#stopping === null) {
      const problems = await this.#applyOnWorkers(config);
      failures.push(...problems);
      if (problems.length === 0) for (const l of forWorkers) this.#listening(l, { workers: this.#workers.count, ...(l.engine === null ? {} : { engine: l.engine }) });
    }
    if (this.#stopping === null) failures.push(...(await this.admin.apply(config.admin)));
    if (this.#stopping === null) {
      const { sync, failure } = await followSync(this.haSync, config.ha?.sync ?? null, this.runtime, this.log);
      this.haSync = sync;
      // a node that starts keeps away from the VIPs until it has its peers' state
      this.ha.syncReady(sync, config);
      if (failure !== null) failures.push(failure);
    }
    // A reload changes pools and members without touching listeners: the kernel rules follow.
    const kernelError = this.#stopping === null ? await this.#kernel?.update() : null;
    if (kernelError != null) failures.push(kernelError.message);
    if (this.#stopping === null) failures.push(...(await this.ha.apply(config)));
    for (const note of kernelNotes(config)) this.log.warn(note);
    return { failures, summary };
  }

  #listening(listener: Listener, extra: Record<string, unknown>): void {
    const { service } = listener;
    const { address, port } = listener.address();
    this.log.info({ service: service.name, mode: service.config.mode, address, port, pool: service.pool.name, ...extra }, 'service listening');
  }

  /** Sends the config to the worker threads with the ports bound here; then the workers hold them alone. */
  async #applyOnWorkers(config: Config): Promise<string[]> {
    const ports = new Map<string, number>();
    const bound: WorkersListener[] = [];
    for (const [name, listener] of this.#listeners) {
      if (!(listener instanceof WorkersListener)) continue;
      ports.set(name, listener.address().port);
      bound.push(listener);
    }
    const drops = new Map<string, SharedArrayBuffer>();
    for (const listener of bound) if (listener.udpDrops !== null) drops.set(listener.service.name, listener.udpDrops.buffer);
    const flows = effectiveMaxFlows(Infinity, this.#budget);
    const failures = await this.#workers!.apply(config, ports, this.runtime.resources.maxConnections, { flows, drops });
    for (const listener of bound) listener.release();
    return failures;
  }

  /** Shares the descriptors out for `config`; says so when a udp service's max-flows is clipped. */
  #applyBudget(config: Config): void {
    const limit = readFileLimit();
    if (limit === null) return;
    // the threads running, or (at start) those about to: each holds descriptors of its own
    const budget = fdBudget(limit.soft, config, this.#workers?.count ?? workerCount(config.global.workers));
    this.#budget = budget;
    this.runtime.resources.maxConnections = budget.connections;
    this.log.info({ limit: budget.limit, reserve: budget.reserve, flowsPerUdpService: budget.flowsPerUdpService, connections: budget.connections }, 'file descriptor budget');
    for (const line of clippedFlows(config, budget)) this.log.warn(line);
  }

  #listenerFor(service: Service, held: ReadonlySet<string>): Listener {
    const log = this.log;
    const resources = this.runtime.resources;
    if (this.#workers !== null && servedByWorkers(service.config.mode)) {
      const listener = new WorkersListener(service, log);
      listener.probe = !held.has(listener.key);
      return listener;
    }
    switch (service.config.mode) {
      case 'tcp':
        return new TcpListener(service, this.runtime.connections, log, resources);
      case 'udp':
        return new UdpListener(service, this.runtime.connections, log, resources, () => effectiveMaxFlows(Infinity, this.#budget));
      case 'http':
        return new HttpListener(service, this.runtime.connections, log, this.runtime.requests, resources);
      case 'nat':
      case 'dsr':
        this.#kernel ??= new KernelPlane(this.runtime, log);
        this.runtime.kernel = this.#kernel;
        return new KernelListener(service, this.#kernel);
    }
  }

  /**
   * Reopens the log files of every thread (SIGUSR1, after logrotate renamed them); returns what
   * this thread could not reopen (a worker says its own in the log).
   */
  reopenLogs(): string[] {
    this.#workers?.reopenLogs();
    return logOutputs(this.log).reopen();
  }

  /** Stops accepting, waits up to `grace` ms for live connections, then ends what is left. */
  stop(grace: number): Promise<void> {
    this.#stopping ??= this.#stop(grace);
    return this.#stopping;
  }

  async #stop(grace: number): Promise<void> {
    // first: the peer takes the VIPs while these listeners still finish their connections
    await this.ha.close();
    await Promise.all([...this.#listeners.values()].map((l) => l.close()));
    this.#listeners.clear();
    // the workers stop as this thread does, each with the same grace
    const workersStopped = this.#workers?.stop(grace);
    // nat and dsr connections live in the kernel: they get the same grace, then the tables go
    const kernelClosed = this.#kernel?.close(grace);
    await this.admin.close();
    await this.haSync?.close();
    this.health.close();
    this.runtime.close();
    const table = this.runtime.connections;
    if (table.size > 0 && grace > 0) {
      this.log.info({ connections: table.size, grace }, 'waiting for live connections');
      const timer = new AbortController();
      await Promise.race([table.drained(), delay(grace, undefined, { signal: timer.signal }).catch(() => {})]);
      timer.abort();
    }
    for (const entry of [...table.list()]) entry.abort();
    await table.drained();
    await kernelClosed;
    await workersStopped;
    // what the files and the syslog server have not taken yet goes out; later lines go to stdout
    await logOutputs(this.log).close();
  }
}

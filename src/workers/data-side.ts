// The data side: what runs in one worker thread. It builds its own Runtime from the config the
// main thread sends (only the tcp, http and udp services), binds each service with SO_REUSEPORT on
// the port the main thread chose, and sets its members to the states the main thread decides.
// It runs no health check, no admin API, no kernel or ha plane: those are the control side's.

import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import { HttpListener } from '../proxy/http/http-listener.ts';
import type { Listener } from '../proxy/listener.ts';
import { streamEngine } from '../proxy/stream-engine.ts';
import { TcpListener } from '../proxy/tcp-listener.ts';
import { UdpListener } from '../proxy/udp-listener.ts';
import { Runtime } from '../runtime/runtime.ts';
import type { Service } from '../runtime/service.ts';
import type { SharedCounters } from '../runtime/shared-counters.ts';
import type { PassiveRelay } from './passive-relay.ts';
import { WorkerSticks } from './worker-sticks.ts';
import { applyDelta, type WorkerConfig } from './config-delta.ts';
import { applyMirror, slotKey, type ApplyMessage, type MemberMirror, type WorkerStats } from './messages.ts';
import { SharedDrops } from './udp-drops.ts';
import { shareQueues, type QueueShare } from './queue-slots.ts';
import { shareClientTables } from './client-tables.ts';
import { shareRateTables } from './rate-tables.ts';

export class DataSide {
  readonly index: number;
  readonly runtime = new Runtime();
  /** reports passive health to the main thread, which decides (set by worker-main.ts) */
  passiveRelay: PassiveRelay | null = null;
  /** this worker's stick tables, kept the same as the other threads' */
  readonly sticks: WorkerSticks;
  readonly #log: Logger;
  readonly #counters: SharedCounters;
  readonly #listeners = new Map<string, Listener>();
  readonly #queues: QueueShare | null;
  #applied = 0;
  /** the config this worker runs, which the next delta changes */
  #config: WorkerConfig | null = null;
  /** this worker's share of the flows the descriptor budget allows each udp service */
  #udpFlows = Infinity;
  readonly #udpFlowsNow = (): number => this.#udpFlows;

  constructor(index: number, counters: SharedCounters, log: Logger, queues: QueueShare | null = null) {
    this.index = index;
    this.#counters = counters;
    this.#queues = queues;
    this.#log = log;
    this.sticks = new WorkerSticks(this.runtime, index);
    this.runtime.events.listenerFailed = (err, event) => {
      this.#log.error({ err, event }, 'a handler of a state change failed; the others were told');
    };
  }

  /** Applies a config: members get their slots and states before any listener takes a client. */
  async apply(message: ApplyMessage): Promise<string[]> {
    this.runtime.resources.maxConnections = message.maxConnections;
    this.#udpFlows = message.udpFlows;
    const drops = new Map(message.udpDrops);
    this.#config = applyDelta(this.#config, message.config);
    // no summary of the changes: the main thread logs it, no one here would read it
    const { listen, unlisten } = this.runtime.apply(this.#config, false);
    // before any await: no client of a capped service is taken without its table
    shareClientTables(this.runtime, message.clientTables, this.index);
    shareRateTables(this.runtime, message.rateTables, this.index);
    // a new client's first connections may reach two workers at once: both must choose alike
    for (const service of this.runtime.services.values()) if (service.persistence !== null) service.persistence.agreeAcrossThreads = true;
    this.sticks.applied(message.sticks);
    // the slots of the members of the pools sent: the others' have not changed (slots are kept across reloads)
    const slots = new Map(message.slots);
    for (const name of Object.keys(message.config.pools)) {
      const pool = this.runtime.pools.get(name);
      if (pool === undefined) continue;
      for (const member of pool.members) {
        const slot = slots.get(slotKey(pool.name, member.id));
        if (slot === undefined) continue;
        member.shareCount(this.#counters, slot);
        this.passiveRelay?.attach(member, pool, slot);
      }
    }
    if (this.#queues !== null) shareQueues(this.runtime, this.#queues, message.queues);
    for (const state of message.states) this.member(state);
    const failures: string[] = [];
    for (const name of unlisten) {
      await this.#listeners.get(name)?.close();
      this.#listeners.delete(name);
    }
    for (const service of listen) {
      const listener = this.#listenerFor(service, drops.get(service.name));
      try {
        await listener.listen();
        this.#listeners.set(service.name, listener);
      } catch (err) {
        await listener.close();
        failures.push(`service ${service.name}: worker ${this.index} cannot listen on ${service.config.listen.host}:${service.config.listen.port}: ${(err as Error).message}`);
      }
    }
    this.#applied++;
    return failures;
  }

  /** The control side changed a member's state. */
  member(state: MemberMirror): void {
    const member = this.runtime.member(state.pool, state.id);
    if (member !== undefined) applyMirror(member, state);
  }

  stats(): WorkerStats {
    const served: Record<string, number> = {};
    for (const pool of this.runtime.pools.values()) {
      for (const member of pool.members) served[`${pool.name}/${member.id}`] = member.total;
    }
    return { index: this.index, applied: this.#applied, served, connections: this.runtime.connections.size, maxConnections: this.runtime.resources.maxConnections };
  }

  /** As the one-loop process stops (app.ts): stop accepting, give live connections `grace` ms, end the rest. */
  async stop(grace: number): Promise<void> {
    await Promise.all([...this.#listeners.values()].map((l) => l.close()));
    this.#listeners.clear();
    this.sticks.close();
    this.runtime.close();
    const table = this.runtime.connections;
    if (table.size > 0 && grace > 0) {
      // as the one loop says it (app.ts), with this worker's own count
      this.#log.info({ connections: table.size, grace }, 'waiting for live connections');
      const timer = new AbortController();
      await Promise.race([table.drained(), delay(grace, undefined, { signal: timer.signal }).catch(() => {})]);
      timer.abort();
    }
    for (const entry of [...table.list()]) entry.abort();
    await table.drained();
  }

  #listenerFor(service: Service, drops: SharedArrayBuffer | undefined): Listener {
    const runtime = this.runtime;
    const options = { reusePort: true };
    if (service.config.mode === 'udp') {
      const tally = drops === undefined ? {} : { tally: new SharedDrops(drops) };
      return new UdpListener(service, runtime.connections, this.#log, runtime.resources, this.#udpFlowsNow, { ...options, ...tally });
    }
    if (service.config.mode === 'http') {
      return new HttpListener(service, runtime.connections, this.#log, runtime.requests, runtime.resources, options);
    }
    // the same choice as the main thread's, which said its note once (workers-listener.ts)
    return new TcpListener(service, runtime.connections, this.#log, runtime.resources, streamEngine(undefined, null), options);
  }
}

// A member: one real server of a pool, as a live object. Its health is set by its monitors,
// its admin state by operators, its agent's word by the agent on the server; its counters by
// the data planes through its pool.

import type { Candidate } from '../balance/balancer.ts';
import { hostPort } from '../config/address.ts';
import type { MemberConfig } from '../config/types.ts';
import type { AdminState, AgentView, CheckView, Health, MemberChange } from './member-state.ts';
import { PASSIVE_OFF, PassiveGroup, PassiveHealth, type PassiveOwner } from './passive-health.ts';
import type { SharedCounters } from './shared-counters.ts';
import { TrafficList, type TrafficLinks } from './member-traffic.ts';

/** Where a member announces its changes: the runtime's events (events.ts), which name Member. */
interface ChangeSink {
  emit(event: 'member', member: Member, change: MemberChange): boolean;
}

/** Live traffic on a member that is told when the member stops serving (on-member-down: member-down.ts). */
export interface MemberTraffic extends TrafficLinks<MemberTraffic> {
  memberDown(member: Member): void;
}

/** Told whenever what a balancer reads of a member changes: its pool, for its indexed balancer (pool.ts). */
export interface LoadWatcher {
  loadChanged(member: Member): void;
  /** its `available` changed: it takes new connections, or stopped */
  availableChanged(member: Member): void;
  /** its effective weight changed (an operator, its agent, slow start, a reload) */
  weightChanged(member: Member): void;
}

/** Weight of the newest sample in the latency moving average (least-time). */
const LATENCY_ALPHA = 0.2;

export class Member implements Candidate, PassiveOwner {
  readonly id: string;
  readonly poolName: string;
  /** the member's config as last applied */
  config: MemberConfig;
  /** host as configured (may be a hostname) */
  host: string;
  /** the address connections go to (host resolved) */
  ip: string;
  port: number;
  backup: boolean;

  /** the weight from the config, or as an operator set it */
  configWeight: number;
  /** the agent's share of configWeight, in percent */
  agentPercent = 100;
  /** slow start: the share of its weight a member that just came back up gets, 0..1 */
  ramp = 1;
  /** effective weight, what the balancers read: configWeight × agentPercent × ramp */
  weight: number;
  maxConnections: number;
  /** moving average of the connect time, ms: what least-time compares */
  latency = 0;

  health: Health = 'up';
  healthReason = '';
  admin: AdminState = 'enabled';
  /** the agent's last word; null when the pool has no agent */
  agent: AgentView | null = null;
  /** each monitor's last result, in the pool's monitor order */
  checks: CheckView[] = [];
  /** time (ms since epoch) of the last health, admin or agent transition */
  since = Date.now();

  /** its `active` count when this thread alone counts it (one loop: no worker threads) */
  #active = 0;
  /** with worker threads: the process's shared counts and this member's slot in them */
  #counters: SharedCounters | null = null;
  #slot = 0;
  /** connections given to it since start (in http, requests) */
  total = 0;
  /** connections it failed: a connect that did not succeed (in http, also a response broken off) */
  failed = 0;
  /** bytes client to member, and member to client */
  bytesIn = 0;
  bytesOut = 0;
  /** its live traffic that must hear when it stops serving (on-member-down, member-down.ts) */
  readonly traffic = new TrafficList<MemberTraffic>();

  /**
   * passive health: its real traffic's failures, and its ejection (passive-health.ts); a worker
   * thread replaces it with one that reports to the main thread (workers/passive-relay.ts)
   */
  passive: PassiveHealth;

  readonly #events: ChangeSink;
  /** its pool, told of every change of usable, active, ramp or latency (pool.ts) */
  watcher: LoadWatcher | null = null;
  /** healthy, enabled, not ejected and not drained or stopped by its agent: kept as one flag for the hot path */
  #takesNew = true;

  /** `health`: where it starts, 'checking' when monitors must pass first (set, not a change: nothing is logged) */
  /** `passive`: its pool's passive-health state (without one, passive health is off) */
  constructor(poolName: string, config: MemberConfig, events: ChangeSink, health: Health = 'up', passive: PassiveGroup = new PassiveGroup(PASSIVE_OFF)) {
    this.poolName = poolName;
    this.passive = new PassiveHealth(this, passive);
    this.health = health;
    this.#takesNew = health === 'up';
    this.config = config;
    this.id = config.id;
    this.host = config.address.host;
    this.ip = config.address.ip ?? config.address.host;
    this.port = config.address.port;
    this.backup = config.backup;
    this.configWeight = config.weight;
    this.weight = config.weight;
    this.maxConnections = config.maxConnections;
    this.#events = events;
  }

  /** connections open to it now (in http, requests in progress), in every worker thread */
  get active(): number {
    return this.#counters === null ? this.#active : this.#counters.read(this.#slot);
  }

  /** Sets the count this thread keeps (tests, and one loop only: shared counts are only taken and given). */
  set active(n: number) {
    this.#active = n;
    this.watcher?.loadChanged(this);
  }

  /** Whether other worker threads change its `active` count too (they cannot tell this thread's balancer). */
  get shared(): boolean {
    return this.#counters !== null;
  }

  /**
   * Counts on `slot` of the shared counters from now on (worker threads, shared-counters.ts).
   * Called before the member takes traffic in this thread, and again with the same slot on reloads.
   */
  shareCount(counters: SharedCounters, slot: number): void {
    this.#counters = counters;
    this.#slot = slot;
  }

  /**
   * One more connection, if it stays under its limit. Alone, the caller has checked `usable` just
   * before and nothing can come between; shared, another worker may have taken the last place.
   */
  take(): boolean {
    if (this.#counters === null) this.#active++;
    else if (!this.#counters.acquire(this.#slot, this.maxConnections)) return false;
    this.watcher?.loadChanged(this);
    return true;
  }

  /** One connection less: once per take() that succeeded. */
  give(): void {
    if (this.#counters === null) this.#active--;
    else this.#counters.release(this.#slot);
    this.watcher?.loadChanged(this);
  }

  /** Takes new connections when it has room: healthy, enabled, and its agent is not holding it back. */
  get available(): boolean {
    return this.#takesNew;
  }

  get full(): boolean {
    return this.maxConnections > 0 && this.active >= this.maxConnections;
  }

  /** Available and under its limit. */
  get usable(): boolean {
    return this.#takesNew && (this.maxConnections === 0 || this.active < this.maxConnections);
  }

  /**
   * Keeps the connections it has and those its persistent clients bring: healthy and not
   * disabled, ejected or stopped — a drained member still serves them.
   */
  get servesExisting(): boolean {
    return this.health === 'up' && this.admin !== 'disabled' && !this.passive.ejected &&
      (this.agent === null || (this.agent.state !== 'down' && this.agent.state !== 'maint'));
  }

  /** "host:port" of the server as connections see it. */
  get endpoint(): string {
    return hostPort(this.ip, this.port);
  }

  setHealth(to: Health, reason = ''): void {
    const from = this.health;
    this.healthReason = reason;
    if (from === to) return;
    this.health = to;
    this.since = Date.now();
    this.#refresh();
    this.#events.emit('member', this, { kind: 'health', from, to, reason });
  }

  setAdmin(to: AdminState): void {
    const from = this.admin;
    if (from === to) return;
    this.admin = to;
    this.since = Date.now();
    this.#refresh();
    this.#events.emit('member', this, { kind: 'admin', from, to });
  }

  /** The agent's word: its state gates new connections, its percent scales the weight. */
  setAgent(to: AgentView): void {
    const from = this.agent;
    this.agent = to;
    if (to.maxConnections !== null) this.setMaxConnections(to.maxConnections);
    this.agentPercent = to.percent;
    this.#reweigh();
    if (from !== null && from.state === to.state) return;
    this.since = Date.now();
    this.#refresh();
    this.#events.emit('member', this, { kind: 'agent', from: from?.state ?? null, to: to.state, message: to.message });
  }

  /** The pool no longer has an agent: its last word no longer counts. */
  clearAgent(): void {
    if (this.agent === null) return;
    const from = this.agent.state;
    this.agent = null;
    this.agentPercent = 100;
    this.#reweigh();
    this.#refresh();
    this.#events.emit('member', this, { kind: 'agent', from, to: 'ready', message: 'agent removed' });
  }

  /** An operator's (or the config's) weight. */
  setWeight(to: number): void {
    this.configWeight = to;
    this.#reweigh();
  }

  setRamp(ramp: number): void {
    this.ramp = ramp;
    this.#reweigh();
    this.watcher?.loadChanged(this);
  }

  setMaxConnections(to: number): void {
    const from = this.maxConnections;
    if (from === to) return;
    this.maxConnections = to;
    this.watcher?.loadChanged(this);
    this.#events.emit('member', this, { kind: 'max-connections', from, to });
  }

  /**
   * Applies a reloaded config to this live member, keeping its states and counters. A weight or
   * limit that an operator (or an agent's maxconn) set lasts across the reload unless the file
   * now says something new for it: then the file wins, as the newer word.
   */
  reconfigure(config: MemberConfig): void {
    const before = this.config;
    this.config = config;
    this.host = config.address.host;
    this.ip = config.address.ip ?? config.address.host;
    this.port = config.address.port;
    this.backup = config.backup;
    if (config.weight !== before.weight) this.setWeight(config.weight);
    if (config.maxConnections !== before.maxConnections) this.setMaxConnections(config.maxConnections);
  }

  /** Passive health ejected it or let it back (passive-health.ts): a change like a health one. */
  passiveChanged(ejected: boolean, reason: string): void {
    this.since = Date.now();
    this.#refresh();
    this.#events.emit('member', this, { kind: 'ejection', from: !ejected, to: ejected, reason });
  }

  /** It failed past the threshold but the pool's max-ejected-percent kept it in: said, not changed. */
  passiveHeld(reason: string): void {
    this.#events.emit('member', this, { kind: 'ejection', from: false, to: false, reason });
  }

  recordLatency(ms: number): void {
    this.latency = this.latency === 0 ? ms : this.latency + LATENCY_ALPHA * (ms - this.latency);
    this.watcher?.loadChanged(this);
  }

  #refresh(): void {
    const agent = this.agent?.state;
    const was = this.#takesNew;
    this.#takesNew = this.health === 'up' && this.admin === 'enabled' && !this.passive.ejected &&
      (agent === undefined || agent === 'ready' || agent === 'up');
    if (this.#takesNew !== was) this.watcher?.availableChanged(this);
    this.watcher?.loadChanged(this);
  }

  #reweigh(): void {
    const from = this.weight;
    const to = this.configWeight * (this.agentPercent / 100) * this.ramp;
    if (from === to) return;
    this.weight = to;
    // the balancer first (O(log n), or a table rebuilt before the next pick), then whoever listens
    this.watcher?.weightChanged(this);
    this.#events.emit('member', this, { kind: 'weight', from, to });
  }
}

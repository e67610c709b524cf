// A member: one real server of a pool, as a live object. Its health is set by monitors
// (or tests and the API until monitors exist), its admin state by operators; its counters by
// the data planes through its pool.

import type { Candidate } from '../balance/balancer.ts';
import type { MemberConfig } from '../config/types.ts';
import type { AdminState, Health, RuntimeEvents } from './events.ts';

/** Weight of the newest sample in the latency moving average (least-time). */
const LATENCY_ALPHA = 0.2;

export class Member implements Candidate {
  readonly id: string;
  readonly poolName: string;
  /** host as configured (may be a hostname) */
  host: string;
  /** the address connections go to (host resolved) */
  ip: string;
  port: number;
  backup: boolean;

  weight: number;
  maxConnections: number;
  health: Health = 'up';
  healthReason = '';
  admin: AdminState = 'enabled';
  /** time (ms since epoch) of the last health or admin transition */
  since = Date.now();

  active = 0;
  total = 0;
  failed = 0;
  bytesIn = 0;
  bytesOut = 0;
  latency = 0;

  readonly #events: RuntimeEvents;

  constructor(poolName: string, config: MemberConfig, events: RuntimeEvents) {
    this.poolName = poolName;
    this.id = config.id;
    this.host = config.address.host;
    this.ip = config.address.ip ?? config.address.host;
    this.port = config.address.port;
    this.backup = config.backup;
    this.weight = config.weight;
    this.maxConnections = config.maxConnections;
    this.#events = events;
  }

  /** Healthy and enabled: the member takes new connections when it has room. */
  get available(): boolean {
    return this.health === 'up' && this.admin === 'enabled';
  }

  get full(): boolean {
    return this.maxConnections > 0 && this.active >= this.maxConnections;
  }

  /** Healthy, enabled and under its limit. */
  get usable(): boolean {
    return this.health === 'up' && this.admin === 'enabled' &&
      (this.maxConnections === 0 || this.active < this.maxConnections);
  }

  /** "host:port" of the server as connections see it. */
  get endpoint(): string {
    return this.ip.includes(':') ? `[${this.ip}]:${this.port}` : `${this.ip}:${this.port}`;
  }

  setHealth(to: Health, reason = ''): void {
    const from = this.health;
    this.healthReason = reason;
    if (from === to) return;
    this.health = to;
    this.since = Date.now();
    this.#events.emit('member', this, { kind: 'health', from, to, reason });
  }

  setAdmin(to: AdminState): void {
    const from = this.admin;
    if (from === to) return;
    this.admin = to;
    this.since = Date.now();
    this.#events.emit('member', this, { kind: 'admin', from, to });
  }

  setWeight(to: number): void {
    const from = this.weight;
    if (from === to) return;
    this.weight = to;
    this.#events.emit('member', this, { kind: 'weight', from, to });
  }

  setMaxConnections(to: number): void {
    const from = this.maxConnections;
    if (from === to) return;
    this.maxConnections = to;
    this.#events.emit('member', this, { kind: 'max-connections', from, to });
  }

  /** Applies a reloaded config to this live member, keeping its states and counters. */
  reconfigure(config: MemberConfig): void {
    this.host = config.address.host;
    this.ip = config.address.ip ?? config.address.host;
    this.port = config.address.port;
    this.backup = config.backup;
    this.setWeight(config.weight);
    this.setMaxConnections(config.maxConnections);
  }

  recordLatency(ms: number): void {
    this.latency = this.latency === 0 ? ms : this.latency + LATENCY_ALPHA * (ms - this.latency);
  }
}

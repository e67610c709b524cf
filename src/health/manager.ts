// Health of the whole runtime: for every member, the checkers of its monitors (shared between
// pools when the monitor and the address are the same), the rule that combines them, its agent,
// and slow start. reconcile() after each config apply keeps what did not change — checkers,
// states and schedules — and closes exactly what is no longer used.

import { EventEmitter } from 'node:events';
import { usesHash } from '../balance/index.ts';
import type { AgentConfig, HealthRule, MonitorConfig } from '../config/health-types.ts';
import type { PoolConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { CheckView, MemberChange } from '../runtime/events.ts';
import type { Member } from '../runtime/member.ts';
import type { Pool } from '../runtime/pool.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { AgentChecker } from './agent.ts';
import { Checker } from './checker.ts';
import { MemberHealth } from './member-health.ts';
import type { CheckTarget } from './monitor.ts';
import { createMonitor } from './monitors/index.ts';
import { SlowStart } from './slow-start.ts';

interface Watch {
  /** what the member's health depends on; a change rebuilds the watch */
  signature: string;
  health: MemberHealth | null;
  agent: AgentChecker | null;
}

export interface HealthEventMap {
  /** one check of a member's monitor (by its index in the member's checks) ran; for metrics */
  check: [member: Member, monitor: number, view: CheckView];
}

export class HealthManager {
  readonly events = new EventEmitter<HealthEventMap>();
  readonly #runtime: Runtime;
  readonly #log: Logger;
  readonly #checkers = new Map<string, Checker>();
  readonly #watches = new Map<Member, Watch>();
  /** each pool's config and members as the last reconcile() watched them (retry: a monitor could not run) */
  readonly #pools = new Map<Pool, { config: PoolConfig; members: readonly Member[]; retry: boolean }>();
  readonly #slowStart = new SlowStart();

  constructor(runtime: Runtime, log: Logger) {
    this.#runtime = runtime;
    this.#log = log;
    runtime.events.on('member', this.#onMemberChange);
  }

  /** Checkers running now (one per distinct monitor and address). */
  get checkers(): number {
    return this.#checkers.size;
  }

  /**
   * Brings the checkers in line with the runtime. A monitor that cannot run here (icmp without
   * a raw socket, unreadable TLS files) marks its member down with the reason, the others go on,
   * and the problems are thrown together at the end: fatal at start, logged on reload.
   */
  reconcile(): void {
    const problems: string[] = [];
    const pools = this.#runtime.pools;
    // members of pools a reload changed or removed: unwatched below unless still configured
    const left: Member[] = [];
    for (const [pool, was] of this.#pools) {
      if (pools.get(pool.name) === pool && pool.members === was.members) continue;
      for (const member of was.members) left.push(member);
      this.#pools.delete(pool);
    }
    const seen = new Set<Member>();
    for (const pool of pools.values()) {
      // the same config and members as last time: every watch of the pool stands as it is
      const was = this.#pools.get(pool);
      if (was !== undefined && !was.retry && was.config === pool.config) continue;
      const health = pool.config.health;
      let failed = false;
      for (const member of pool.members) {
        seen.add(member);
        const override = member.config.health;
        const monitors = override?.monitors ?? health.monitors;
        const rule = override?.require ?? health.require;
        const signature = signatureOf(member, monitors, rule, health.agent);
        const previous = this.#watches.get(member);
        if (previous?.signature === signature) continue;
        if (previous !== undefined) this.#unwatch(previous);
        try {
          this.#watches.set(member, this.#watch(member, signature, monitors, rule, previous === undefined, health.initialState, health.agent));
        } catch (err) {
          const reason = `monitor cannot run: ${(err as Error).message}`;
          problems.push(`pool ${pool.name} member ${member.id}: ${reason}`);
          this.#watches.set(member, { signature: `failed:${signature}`, health: null, agent: null });
          member.setHealth('down', reason);
          failed = true;
        }
      }
      // a monitor that could not run is tried again at the next reload, as before
      this.#pools.set(pool, { config: pool.config, members: pool.members, retry: failed });
    }
    for (const member of left) {
      const watch = this.#watches.get(member);
      if (watch === undefined || seen.has(member)) continue;
      this.#unwatch(watch);
      this.#watches.delete(member);
      this.#slowStart.end(member, false);
    }
    for (const [key, checker] of this.#checkers) {
      if (checker.subscribers > 0) continue;
      checker.close();
      this.#checkers.delete(key);
    }
    if (problems.length > 0) throw new Error([...new Set(problems)].join('\n'));
  }

  close(): void {
    this.#runtime.events.off('member', this.#onMemberChange);
    for (const watch of this.#watches.values()) this.#unwatch(watch);
    this.#watches.clear();
    this.#pools.clear();
    for (const checker of this.#checkers.values()) checker.close();
    this.#checkers.clear();
    this.#slowStart.close();
  }

  #watch(
    member: Member,
    signature: string,
    monitors: readonly MonitorConfig[],
    rule: HealthRule,
    fresh: boolean,
    initialState: 'checking' | 'up',
    agentConfig: AgentConfig | null,
  ): Watch {
    let health: MemberHealth | null = null;
    if (monitors.length === 0) {
      member.checks = [];
      if (member.health !== 'up') member.setHealth('up', 'no monitors');
    } else {
      const checkers = monitors.map((m) => this.#checker(m, targetOf(member, m)));
      if (fresh && initialState === 'checking') member.setHealth('checking', 'not checked yet');
      health = new MemberHealth(member, rule, checkers, this.#observe);
      // shared checkers may already have a verdict
      if (checkers.every((c) => c.state !== 'checking')) health.evaluate();
    }
    let agent: AgentChecker | null = null;
    if (agentConfig !== null) {
      agent = new AgentChecker(agentConfig, member);
      agent.start();
    } else {
      member.clearAgent();
    }
    return { signature, health, agent };
  }

  #unwatch(watch: Watch): void {
    watch.health?.detach();
    watch.agent?.close();
  }

  #checker(config: MonitorConfig, target: CheckTarget): Checker {
    const key = `${monitorKey(config)}@${target.host}|${target.ip}|${target.port}`;
    let checker = this.#checkers.get(key);
    if (checker === undefined) {
      checker = new Checker(config, target, createMonitor(config), this.#log);
      this.#checkers.set(key, checker);
      checker.start();
    }
    return checker;
  }

  #observe = (member: Member, monitor: number, view: CheckView): void => {
    this.events.emit('check', member, monitor, view);
  };

  #onMemberChange = (member: Member, change: MemberChange): void => {
    if (change.kind !== 'health') return;
    const pool = this.#runtime.pools.get(member.poolName);
    if (pool === undefined) return;
    const duration = pool.config.slowStart;
    // a hashing algorithm's table would move keys if slow start changed weights (balance/algorithm.ts)
    if (change.to === 'up' && change.from === 'down' && duration > 0 && !usesHash(pool.algorithm)) {
      this.#log.info({ pool: pool.name, member: member.id, duration }, 'slow start');
      this.#slowStart.begin(member, duration);
    } else if (change.to !== 'up') {
      this.#slowStart.end(member, true);
    }
  };
}

function targetOf(member: Member, monitor: MonitorConfig): CheckTarget {
  return { host: member.host, ip: member.ip, port: monitor.port ?? member.port };
}

/** Monitor configs as text, Buffers as hex, so equal configs give equal keys. */
function monitorKey(config: MonitorConfig): string {
  return JSON.stringify(config, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
      return `hex:${Buffer.from((value as { data: number[] }).data).toString('hex')}`;
    }
    return value;
  });
}

function signatureOf(member: Member, monitors: readonly MonitorConfig[], rule: HealthRule, agent: unknown): string {
  return `${member.host}|${member.ip}|${member.port}|${JSON.stringify(rule)}|${monitors.map(monitorKey).join(',')}|${JSON.stringify(agent)}`;
}

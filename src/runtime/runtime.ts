// The live model: services, pools and members, the connection table, and the events of their
// state changes. Data planes, monitors and the admin API all work on this one model.
// `apply` builds it from a config and, on reload, updates it in place: pools and members that
// still exist keep their state, counters and live connections.

import { diffConfig } from '../config/diff.ts';
import type { Config } from '../config/types.ts';
import { describeChanges, describeStart } from './config-changes.ts';
import { ConnectionTable } from './connection-table.ts';
import type { KernelTables } from './kernel-tables.ts';
import { RuntimeEvents } from './events.ts';
import type { Member } from './member.ts';
import { memberStopped } from './member-down.ts';
import { Pool } from './pool.ts';
import { RequestCounts } from './request-counts.ts';
import { ResourceCounts } from './resources.ts';
import { Service } from './service.ts';

export interface ApplyResult {
  /** services that need a new listener (new, or their address or mode changed) */
  listen: Service[];
  /** services whose listener must close (removed, or replaced by one in `listen`) */
  unlisten: string[];
  /** one line for the log: what runs (at start) or what changed (on a reload) */
  summary: string;
}

export class Runtime {
  readonly events = new RuntimeEvents();
  readonly connections = new ConnectionTable();
  /** HTTP responses by service, member and status class (counted by the http data plane) */
  readonly requests = new RequestCounts();
  /** descriptors that ran out, udp flows evicted, clients refused over their cap (never a member's failure) */
  readonly resources = new ResourceCounts();
  readonly services = new Map<string, Service>();
  readonly pools = new Map<string, Pool>();
  config: Config | null = null;
  /** the kernel's connections and persistence entries of nat and dsr services; null without any */
  kernel: KernelTables | null = null;
  /** the clock the services' stick tables expire by; undefined: performance.now */
  readonly stickClock: (() => number) | undefined;

  constructor(stickClock?: () => number) {
    this.stickClock = stickClock;
    this.events.on('member', (member, change) => {
      this.pools.get(member.poolName)?.memberChanged(member, change);
      // its live traffic leaves it (on-member-down); draining keeps servesExisting: moves nothing
      if (!member.servesExisting) this.resources.connectionsFailed += memberStopped(member);
    });
  }

  member(pool: string, id: string): Member | undefined {
    return this.pools.get(pool)?.member(id);
  }

  /**
   * `describe`: make the summary (the log's line, the API's answer); a worker thread, whose summary
   * no one reads, skips its comparisons of every pool and member.
   */
  apply(config: Config, describe = true): ApplyResult {
    /** members a reload took out: they stop serving their live traffic (once the new config is in) */
    const removed: Member[] = [];
    const diff = describe && this.config !== null ? diffConfig(this.config, config) : null;
    const summary = !describe ? '' : diff === null ? describeStart(config) : describeChanges(this.config!, config, diff).join(', ') || 'nothing changed';
    // a pool whose config is the same (the very object in a worker, config-delta.ts; equal, says
    // the diff, here) is left as it is: a reload that changes one pool of 1,000 rebuilds one
    const changed = diff === null ? null : new Set([...diff.pools.changed, ...diff.pools.added]);
    for (const [name, pc] of Object.entries(config.pools)) {
      const live = this.pools.get(name);
      if (live === undefined) {
        this.pools.set(name, new Pool(name, pc, this.events));
      } else if (live.config !== pc && (changed === null || changed.has(name))) {
        const before = live.members;
        live.reconfigure(pc);
        // a Set: a pool of 10,000 members made this 10^8 comparisons per reload
        const kept = new Set(live.members);
        for (const m of before) if (!kept.has(m)) removed.push(m);
      }
    }
    for (const [name, pool] of this.pools) {
      if (name in config.pools) continue;
      pool.close();
      this.pools.delete(name);
      for (const m of pool.members) removed.push(m); // (no spread: a huge pool would overflow the call stack)
    }

    const listen: Service[] = [];
    const unlisten: string[] = [];
    for (const [name, sc] of Object.entries(config.services)) {
      const pool = this.pools.get(sc.pool)!;
      const live = this.services.get(name);
      if (live !== undefined && live.sameListener(sc)) {
        live.reconfigure(sc, pool, this.pools);
        continue;
      }
      if (live !== undefined) unlisten.push(name);
      const service = new Service(name, sc, pool, live?.persistence ?? null, this.pools, this.stickClock);
      this.services.set(name, service);
      listen.push(service);
    }
    for (const name of this.services.keys()) {
      if (name in config.services) continue;
      this.services.delete(name);
      unlisten.push(name);
    }
    this.config = config;
    for (const member of removed) this.resources.connectionsFailed += memberStopped(member);
    return { listen, unlisten, summary };
  }

  /** Stops every queue; listeners and connections belong to the data planes. */
  close(): void {
    for (const pool of this.pools.values()) pool.close();
  }
}

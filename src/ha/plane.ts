// The high-availability plane of one furiwake: what the `ha` section runs beside the data planes:
// keepalived (VRRP, the VIPs) and, when nat or dsr services run, conntrackd (kernel connection
// sync), which follows keepalived's role changes. It is what the app starts, reconfigures on
// reload and stops, and what the admin API and metrics read.

import { EventEmitter } from 'node:events';
import type { Config } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { ConntrackSync, conntrackSyncFor } from './conntrack-sync.ts';
import { KeepalivedSupervisor, type SupervisorOptions } from './keepalived.ts';
import { vipsOf } from './keepalived-config.ts';
import { enableNonlocalBind } from './nonlocal-bind.ts';
import type { HaRole, HaStatus, HaTransition } from './status.ts';
import type { HaSync } from './sync.ts';
import { SyncGate, type GateBounds } from './sync-gate.ts';

export class HaPlane {
  /** 'transition': every change of this node's role, in order, as keepalived reports it (conntrackd follows it) */
  readonly events = new EventEmitter<{ transition: [HaTransition] }>();
  readonly #runtime: Runtime;
  readonly #log: Logger;
  #keepalived: KeepalivedSupervisor | null = null;
  #conntrack: ConntrackSync | null = null;
  /** the config in force has an ha section (with or without VRRP) */
  #configured = false;
  /** the config in force has VRRP (interface and router-id): keepalived should run */
  #vrrp = false;
  /** what conntrackd was started for (interface, peers, port): a change restarts it */
  #conntrackFor = '';
  /** an operator's handover: kept when a reload starts a new keepalived (a changed router-id), ended when VRRP goes */
  #handedOver = false;
  /** close() was called: an apply() still under way starts nothing more */
  #closed = false;
  /** keeps the node unfit until its peers' state arrived (ha.sync with vrrp); made at the first syncReady(), once per process */
  #gate: SyncGate | null = null;
  #gateMade = false;
  readonly #keepalivedOptions: Pick<SupervisorOptions, 'binary'>;
  readonly #gateBounds: GateBounds | undefined;

  constructor(runtime: Runtime, log: Logger, keepalivedOptions: Pick<SupervisorOptions, 'binary'> = {}, gateBounds?: GateBounds) {
    this.#runtime = runtime;
    this.#log = log;
    this.#keepalivedOptions = keepalivedOptions;
    this.#gateBounds = gateBounds;
    // at once, in order: a new master must commit the peer's connections before their packets come
    this.events.on('transition', (t) => void this.#conntrack?.roleChanged(t.to));
  }

  /**
   * The replication link in force, before each apply(): at the start of a node that runs VRRP
   * with ha.sync, it keeps away from the VIPs until a peer's full resynchronisation arrived
   * (sync-gate.ts). Only the first call may close the gate: a node already serving is never
   * taken off the VIPs by a reload.
   */
  syncReady(sync: HaSync | null, config: Config): void {
    if (!this.#gateMade) {
      this.#gateMade = true;
      if (sync === null || config.ha?.vrrp !== true || this.#closed) return;
      this.#gate = new SyncGate(this.#log, () => this.#keepalived?.waitFor(null), this.#gateBounds);
    }
    this.#gate?.follow(sync);
  }

  /**
   * Before any listener binds: a backup binds the VIPs it does not hold yet. The problem, or null.
   * A node without VRRP (ha.sync only) moves no address, so it needs nothing of the kind.
   */
  prepare(config: Config): string | null {
    if (config.ha?.vrrp !== true) return null;
    try {
      const set = enableNonlocalBind();
      // not set back at exit: another furiwake of the namespace may need it, and a restart would flap it
      if (set.length > 0) {
        this.#log.warn({ sysctls: set }, 'ha: turned on ip_nonlocal_bind so that listeners bind the VIPs before this node holds them; ' +
          'it stays on after furiwake exits, and lets every process of this network namespace bind any address');
      }
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Starts, reconfigures or stops keepalived and conntrackd with the `ha` section; what could not be done, one line each. */
  async apply(config: Config): Promise<string[]> {
    this.#configured = config.ha !== undefined;
    this.#vrrp = config.ha?.vrrp === true;
    if (config.ha?.vrrp === true && vipsOf(config).length === 0) {
      return ['ha: no VIP to move: every service listens on a wildcard or loopback address; list the addresses to move in ha.vips'];
    }
    await this.#applyConntrack(config);
    const running = this.#keepalived;
    if (running !== null && config.ha?.vrrp === true && running.sameRouter(config)) {
      return running.apply(config);
    }
    this.#keepalived = null;
    await running?.stop();
    if (this.#closed) return [];
    if (config.ha === undefined || !config.ha.vrrp) {
      this.#handedOver = false;
      return [];
    }
    const supervisor = new KeepalivedSupervisor(config, this.#runtime, this.#log,
      { ...this.#keepalivedOptions, handedOver: this.#handedOver, waiting: this.#gate?.reason ?? null, onTransition: (t) => this.events.emit('transition', t) });
    // held while it starts, so that a close() meanwhile stops it too
    this.#keepalived = supervisor;
    try {
      await supervisor.start();
    } catch (err) {
      if (this.#keepalived === supervisor) this.#keepalived = null;
      await supervisor.stop();
      return [`ha: cannot start keepalived: ${(err as Error).message}`];
    }
    return [];
  }

  /**
   * conntrackd runs while nat or dsr services do under `ha` (conntrack-sync not off); it is started
   * again when the link it syncs over changes, told new addresses on a reload, and given the role
   * this node already has (a conntrackd started after the election must still commit or resync).
   */
  async #applyConntrack(config: Config): Promise<void> {
    const want = conntrackSyncFor(config);
    const key = want === null ? '' : JSON.stringify([want.ha.interface, want.ha.peers, want.ha.conntrackSync, want.ha.sync?.peers ?? null]);
    const running = this.#conntrack;
    if (running !== null && key === this.#conntrackFor && want !== null) {
      running.reconfigure(want.addresses);
      return;
    }
    this.#conntrack = null;
    await running?.stop();
    this.#conntrackFor = key;
    if (want === null) return;
    const sync = new ConntrackSync({ ha: want.ha, addresses: want.addresses, logger: this.#log });
    this.#conntrack = sync;
    // false: the first start failed; it is logged and retried with backoff, the balancer runs on
    if (!(await sync.start())) this.#log.warn('ha: conntrackd did not start yet: nat connections do not survive a failover until it does');
    const role = this.#keepalived?.status().role;
    if (role === 'master' || role === 'backup' || role === 'fault') void sync.roleChanged(role);
  }

  /** Stops keepalived (the node releases the VIPs and a peer takes them), then conntrackd. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#gate?.close();
    const running = this.#keepalived;
    this.#keepalived = null;
    await running?.stop();
    const conntrack = this.#conntrack;
    this.#conntrack = null;
    await conntrack?.stop();
  }

  /** null without an ha section; `vrrp` null when furiwake does not move the VIPs (or keepalived is not up yet) */
  status(): HaStatus | null {
    if (!this.#configured) return null;
    return { vrrp: this.#keepalived?.status() ?? null, sync: null, conntrack: this.#conntrack?.status() ?? null };
  }

  /** kernel connection sync, for its metrics; null when it does not run */
  conntrackSync(): ConntrackSync | null {
    return this.#conntrack;
  }

  movesVips(): boolean {
    return this.#vrrp;
  }

  handover(on: boolean): HaStatus | null {
    if (this.#keepalived !== null) this.#handedOver = on;
    this.#keepalived?.handover(on);
    return this.status();
  }

  transitionsTotal(): ReadonlyMap<HaRole, number> | null {
    return this.#keepalived?.roles.counts ?? null;
  }
}

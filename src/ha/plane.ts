// The high-availability plane of one furiwake: what the `ha` section runs beside the data planes.
// Today that is keepalived (VRRP, the VIPs); it is what the app starts, reconfigures on reload
// and stops, and what the admin API and metrics read.

import { EventEmitter } from 'node:events';
import type { Config } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { KeepalivedSupervisor } from './keepalived.ts';
import { vipsOf } from './keepalived-config.ts';
import { enableNonlocalBind } from './nonlocal-bind.ts';
import type { HaRole, HaStatus, HaTransition } from './status.ts';

export class HaPlane {
  /** 'transition': every change of this node's role, in order, as keepalived reports it (conntrackd follows it) */
  readonly events = new EventEmitter<{ transition: [HaTransition] }>();
  readonly #runtime: Runtime;
  readonly #log: Logger;
  #keepalived: KeepalivedSupervisor | null = null;

  constructor(runtime: Runtime, log: Logger) {
    this.#runtime = runtime;
    this.#log = log;
  }

  /** Before any listener binds: a backup binds the VIPs it does not hold yet. The problem, or null. */
  prepare(config: Config): string | null {
    if (config.ha === undefined) return null;
    try {
      const set = enableNonlocalBind();
      if (set.length > 0) this.#log.info({ sysctls: set }, 'ha: listeners may bind the VIPs before this node holds them (ip_nonlocal_bind=1)');
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Starts, reconfigures or stops keepalived with the `ha` section; what could not be done, one line each. */
  async apply(config: Config): Promise<string[]> {
    if (config.ha !== undefined && vipsOf(config).length === 0) {
      return ['ha: no VIP to move: every service listens on a wildcard or loopback address; list the addresses to move in ha.vips'];
    }
    const running = this.#keepalived;
    if (running !== null && config.ha !== undefined && running.sameRouter(config)) {
      return running.apply(config);
    }
    this.#keepalived = null;
    await running?.stop();
    if (config.ha === undefined) return [];
    const supervisor = new KeepalivedSupervisor(config, this.#runtime, this.#log, { onTransition: (t) => this.events.emit('transition', t) });
    try {
      await supervisor.start();
    } catch (err) {
      await supervisor.stop();
      return [`ha: cannot start keepalived: ${(err as Error).message}`];
    }
    this.#keepalived = supervisor;
    return [];
  }

  /** Stops keepalived: the node releases the VIPs and a peer takes them. */
  async close(): Promise<void> {
    const running = this.#keepalived;
    this.#keepalived = null;
    await running?.stop();
  }

  status(): HaStatus | null {
    const k = this.#keepalived;
    return k === null ? null : { vrrp: k.status(), sync: null, conntrack: null };
  }

  handover(on: boolean): HaStatus | null {
    this.#keepalived?.handover(on);
    return this.status();
  }

  transitionsTotal(): ReadonlyMap<HaRole, number> | null {
    return this.#keepalived?.roles.counts ?? null;
  }
}

// Services on their way out of the kernel (a reload removed them, or furiwake is stopping): they
// take no new connection while the kernel keeps their live ones flowing, and their rules leave
// when those have ended or the grace period is over — as the user-space listeners let their
// connections finish.

import type { ConnectionFilter } from '../runtime/connection-table.ts';
import type { KernelConnection } from '../runtime/kernel-tables.ts';
import type { Service } from '../runtime/service.ts';
import { isOpen } from './reading.ts';

/** How often a departing service's connections are counted. */
const DRAIN_INTERVAL = 250;

/** What the drain reads of the plane, and tells it. */
export interface DrainHost {
  connections(filter: ConnectionFilter): Promise<KernelConnection[]>;
  /** departing services left: their rules go */
  released(): Promise<void>;
  /** the last departing service left */
  drained(): void;
  /** a fault of ours in a timer's work */
  unexpected(err: unknown): void;
}

export class Drain {
  readonly #host: DrainHost;
  /** service -> the deadline (ms since epoch) at which its rules go, connections or not */
  readonly #departing = new Map<Service, number>();
  #run: { timer: NodeJS.Timeout; done: Promise<void>; resolve: () => void } | null = null;

  constructor(host: DrainHost) {
    this.#host = host;
  }

  get size(): number {
    return this.#departing.size;
  }

  services(): IterableIterator<Service> {
    return this.#departing.keys();
  }

  /** The service takes no new connection; its rules stay until `deadline` or until it is idle. */
  depart(service: Service, deadline: number): void {
    this.#departing.set(service, deadline);
    this.#run ??= this.#start();
  }

  /** A service added again under its name (moved to another address) replaces its departing self: they would share names. */
  forget(name: string): void {
    for (const old of this.#departing.keys()) if (old.name === name) this.#departing.delete(old);
  }

  /** Brings every deadline forward to `deadline` at the latest; resolves once all have gone. */
  async finish(deadline: number): Promise<void> {
    for (const [service, at] of this.#departing) this.#departing.set(service, Math.min(at, deadline));
    await this.#run?.done;
  }

  #start(): { timer: NodeJS.Timeout; done: Promise<void>; resolve: () => void } {
    let resolve: () => void = () => {};
    const done = new Promise<void>((r) => (resolve = r));
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void this.#step().catch((err: unknown) => this.#host.unexpected(err)).finally(() => (busy = false));
    }, DRAIN_INTERVAL);
    return { timer, done, resolve };
  }

  /** Lets go of the departing services whose connections have ended or whose time is up. */
  async #step(): Promise<void> {
    const now = Date.now();
    let gone = 0;
    for (const [service, deadline] of [...this.#departing]) {
      if (now < deadline && await this.#hasConnections(service)) continue;
      // a service added again under its name meanwhile has taken its place already
      if (this.#departing.delete(service)) gone++;
    }
    if (gone > 0) await this.#host.released();
    if (this.#departing.size === 0 && this.#run !== null) {
      clearInterval(this.#run.timer);
      this.#run.resolve();
      this.#run = null;
      this.#host.drained();
    }
  }

  async #hasConnections(service: Service): Promise<boolean> {
    try {
      const rows = await this.#host.connections({ service: service.name });
      return rows.some((r) => r.mode === 'dsr' || isOpen(r.protocol, r.state));
    } catch {
      return false;
    }
  }
}

// Services on their way out of the kernel (a reload removed them, or furiwake is stopping): they
// take no new connection while the kernel keeps their live ones flowing, and their rules leave
// when those have ended or the grace period is over — as the user-space listeners let their
// connections finish.

import type { Logger } from '../log.ts';
import type { Service } from '../runtime/service.ts';

/** How often a departing service's connections are counted. */
const DRAIN_INTERVAL = 250;

/** What the drain reads of the plane, and tells it. */
export interface DrainHost {
  /** the open connections of these services, by name (open-connections.ts: one count for all) */
  open(services: readonly Service[]): Promise<ReadonlyMap<string, number>>;
  /** departing services left: their rules go */
  released(): Promise<void>;
  /** the last departing service left */
  drained(): void;
  /** a fault of ours in a timer's work */
  unexpected(err: unknown): void;
}

export class Drain {
  readonly #host: DrainHost;
  readonly #log: Logger;
  /** service -> the deadline (ms since epoch) at which its rules go, connections or not */
  readonly #departing = new Map<Service, number>();
  /** the departing services said to wait for their connections (once each) */
  readonly #waiting = new WeakSet<Service>();
  #run: { timer: NodeJS.Timeout; done: Promise<void>; resolve: () => void } | null = null;

  constructor(host: DrainHost, log: Logger) {
    this.#host = host;
    this.#log = log;
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
    const open = await this.#open([...this.#departing.keys()].filter((s) => now < this.#departing.get(s)!));
    let gone = 0;
    for (const [service, deadline] of [...this.#departing]) {
      const connections = open.get(service.name) ?? 0;
      if (now < deadline && connections > 0) {
        if (!this.#waiting.has(service)) {
          this.#waiting.add(service);
          this.#log.info({ service: service.name, connections, grace: deadline - now }, 'kernel: waiting for live connections');
        }
        continue;
      }
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

  /** What cannot be counted lets its services go: their connections are not known to live. */
  async #open(services: readonly Service[]): Promise<ReadonlyMap<string, number>> {
    if (services.length === 0) return new Map();
    try {
      return await this.#host.open(services);
    } catch {
      return new Map();
    }
  }
}

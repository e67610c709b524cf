// max-connections in the kernel, and passive health of nat services from the same count
// (passive.ts). nftables picks a member with no per-member count that could
// steer its choice, so furiwake counts each limited member's open connections every second
// (open-connections.ts: one conntrack listing for all nat services) and leaves a member at its
// limit out of new choices (the plane re-renders) until it is below it again — as LVS's upper
// threshold does. On a huge table (a listing of 100k connections costs about a second of CPU)
// the next count waits PAUSE_FACTOR times as long as the last took.
//
// Not nftables' `ct count` (nftables 1.0.6 and this kernel have it), though it would let the
// kernel count: it adds the connection it is evaluated for to its member's count before comparing,
// so a connection sent on to another member stays counted against the full one for as long as it
// lives; its count is the state of a rule, lost whenever the ruleset is re-rendered (a health
// change, a reload) and blind to connections made before; and refusing the connection instead
// (drop) would make clients wait for a retransmission while other members have room.

import type { Logger } from '../log.ts';
import type { Member } from '../runtime/member.ts';
import type { Service } from '../runtime/service.ts';
import { openConnections } from './open-connections.ts';
import { KernelPassive } from './passive.ts';
import type { KernelTools } from './requirements.ts';
import type { KernelServiceView } from './view.ts';

/** How often members with a max-connections are counted. */
const LIMIT_INTERVAL = 1_000;
/**
 * A count waits this many times as long as the last one took: with a huge table (a listing of
 * 100k connections takes about a second of CPU) counting never takes more than a fifth of the time.
 */
const PAUSE_FACTOR = 4;

/** What the limits read of the plane. */
export interface LimitsHost {
  /** the services taking new connections, with the view of their rules in the kernel */
  limited(): Iterable<[KernelServiceView, Service]>;
  tools(): KernelTools | null;
  /** re-renders; resolves once the ruleset is in (or with nft's error) */
  update(): Promise<Error | null>;
  /** a fault of ours in a timer's work */
  unexpected(err: unknown): void;
}

export class ConnectionLimits {
  readonly #host: LimitsHost;
  readonly #log: Logger;
  /** members at their max-connections by the last count: left out of new choices */
  #full = new Set<Member>();
  /** passive health of the nat services, judged from the same listing (passive.ts) */
  readonly #passive: KernelPassive;
  #timer: NodeJS.Timeout | null = null;
  /** counting on a timer (between start() and stop()) */
  #ticking = false;
  /** the count in progress */
  #counting: Promise<Error | null> | null = null;
  #stopped = false;

  constructor(host: LimitsHost, log: Logger) {
    this.#host = host;
    this.#log = log;
    this.#passive = new KernelPassive(log);
  }

  /** Whether the member is at its max-connections by the last count. */
  isFull(member: Member): boolean {
    return this.#full.has(member);
  }

  /** Counts every second from now on (again after stop(), when a service comes back). */
  start(): void {
    this.#stopped = false;
    if (this.#ticking) return;
    this.#ticking = true;
    // the first count at once: passive health listens to conntrack's events from the start
    this.#timer = setTimeout(this.#tick, 0);
  }

  /** No more counts on the timer; none at all once `closed` (the plane is closing). */
  stop(closed: boolean): void {
    this.#ticking = false;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#passive.stop();
    if (closed) this.#stopped = true;
  }

  /** The next count starts a while after this one ends (PAUSE_FACTOR): counts never pile up. */
  #tick = (): void => {
    this.#timer = null;
    const began = performance.now();
    void this.check()
      .catch((err: unknown) => this.#host.unexpected(err))
      .finally(() => {
        if (!this.#ticking || this.#timer !== null) return;
        this.#timer = setTimeout(this.#tick, Math.max(LIMIT_INTERVAL, PAUSE_FACTOR * (performance.now() - began)));
      });
  };

  /**
   * Counts the open connections of every member that has a limit (a member of several services
   * counts all of them) and re-renders when a member reached its limit or went below it.
   * Resolves once the ruleset reflects the count.
   */
  async check(): Promise<Error | null> {
    // one count at a time; a caller that comes during one gets a fresh count after it
    while (this.#counting !== null) await this.#counting;
    if (this.#stopped) return null;
    const counting = this.#count();
    this.#counting = counting;
    try {
      return await counting;
    } finally {
      this.#counting = null;
    }
  }

  async #count(): Promise<Error | null> {
    try {
      const services = [...this.#host.limited()].filter(([view, s]) => s.pool.members.some((m) => m.maxConnections > 0) || KernelPassive.watches(view, s));
      const tools = this.#host.tools();
      this.#passive.watch(tools?.conntrack ?? null, services);
      if (services.length === 0 && this.#full.size === 0) return null;
      let counts = new Map<Member, number>();
      if (tools !== null) {
        this.#passive.begin(Date.now());
        try {
          counts = (await openConnections(tools, services, this.#passive)).members;
        } catch (err) {
          this.#passive.abandon();
          throw err;
        }
        this.#passive.end();
      }
      const full = new Set<Member>();
      for (const [member, count] of counts) if (member.maxConnections > 0 && count >= member.maxConnections) full.add(member);
      if (full.size === this.#full.size && [...full].every((m) => this.#full.has(m))) return null;
      for (const m of full) if (!this.#full.has(m)) this.#log.info({ pool: m.poolName, member: m.id, limit: m.maxConnections }, 'kernel: member at max-connections; no new connections until it is below');
      for (const m of this.#full) if (!full.has(m)) this.#log.info({ pool: m.poolName, member: m.id }, 'kernel: member below max-connections again');
      this.#full = full;
      return await this.#host.update();
    } catch (err) {
      this.#log.warn({ reason: (err as Error).message }, 'kernel: cannot count connections for max-connections and passive health');
      return err as Error;
    }
  }
}

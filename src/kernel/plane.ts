// The kernel fast path as a control plane: the nat and dsr services of the runtime, rendered
// into our own nftables tables and applied in one transaction whenever something they depend on
// changes — a service added or removed, a reload, a member's health, admin state, agent word or
// weight. Changes that arrive together (a burst of health results, a reload) are applied as one.
//
// A service that goes (reload, stop) first stops taking new connections while the kernel keeps
// its live ones flowing; its rules leave when those have ended or the grace period is over — as
// the user-space listeners let their connections finish. The plane also answers for the
// kernel's state: connections (conntrack; dsr flow sets) and persistence entries.

import type { Logger } from '../log.ts';
import type { ConnectionFilter } from '../runtime/connection-table.ts';
import type { MemberChange } from '../runtime/events.ts';
import type { KernelConnection, KernelTables, StickyEntry } from '../runtime/kernel-tables.ts';
import type { Member } from '../runtime/member.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { Service } from '../runtime/service.ts';
import { deleteConnections } from './conntrack.ts';
import { exec } from './exec.ts';
import { conntrackRows, flowRows, isOpen, stickyEntries } from './reading.ts';
import { render, TABLE } from './render.ts';
import { checkRequirements, needsOf, type KernelTools } from './requirements.ts';
import { serviceView } from './snapshot.ts';
import { removal, transaction, type Applied } from './transaction.ts';
import type { KernelMemberView, KernelServiceView } from './view.ts';

/**
 * How often the tables are checked for still being there: `nft flush ruleset` or a restart of
 * the host's firewall service removes them, and the services would be gone without a word.
 */
const WATCH_INTERVAL = 10_000;
/** How often a departing service's connections are counted. */
const DRAIN_INTERVAL = 250;
/**
 * How often members with a max-connections are counted (conntrack, flow sets): the kernel has
 * no per-member count that could steer its choice, so furiwake counts and re-renders.
 */
const LIMIT_INTERVAL = 1_000;

/** Changes that make a member take or lose connections (max-connections: see checkLimits). */
const RENDERED: ReadonlySet<MemberChange['kind']> = new Set(['health', 'admin', 'agent', 'weight']);

export class KernelPlane implements KernelTables {
  readonly #runtime: Runtime;
  readonly #log: Logger;
  readonly #services = new Map<string, Service>();
  /** services on their way out: no new connections; their rules go at the deadline (ms since epoch) or when idle */
  readonly #departing = new Map<Service, number>();
  /** per service, member key -> number: names chains and sets, never reused in this process */
  readonly #numbers = new Map<string, Map<string, number>>();
  /** the views of the ruleset in the kernel, by service name */
  #views = new Map<string, KernelServiceView>();
  #tools: KernelTools | null = null;
  #applied: Applied | null = null;
  /** the running apply loop; it re-renders while changes keep arriving */
  #loop: Promise<Error | null> | null = null;
  #dirty = false;
  #closed = false;
  /** also what keeps the process alive when the kernel services are all it runs */
  #watch: NodeJS.Timeout | null = null;
  #drain: { timer: NodeJS.Timeout; done: Promise<void>; resolve: () => void } | null = null;
  /** members at their max-connections by the last count: left out of new choices */
  #full = new Set<Member>();
  #limits: NodeJS.Timeout | null = null;
  /** the count in progress */
  #counting: Promise<Error | null> | null = null;

  constructor(runtime: Runtime, log: Logger) {
    this.#runtime = runtime;
    this.#log = log;
    runtime.events.on('member', this.#onMember);
  }

  /** The service's rules are in the kernel when this resolves; rejects with nft's or a requirement's error. */
  async add(service: Service): Promise<void> {
    this.#tools ??= this.#checkTools();
    // a service added by a reload may name an interface the first check did not see
    const { errors } = checkRequirements([needsOf(service.name, service.config)]);
    const missing = errors.filter((e) => e.startsWith(`services.${service.name}.interface`));
    if (missing.length > 0) throw new Error(missing.join('; '));
    // A service moved to another address replaces its departing self: they would share names.
    for (const old of this.#departing.keys()) if (old.name === service.name) this.#departing.delete(old);
    await this.#checkSnatSource(service);
    this.#services.set(service.name, service);
    this.#watch ??= setInterval(() => void this.#checkTables().catch(this.#unexpected), WATCH_INTERVAL);
    // (a tick that finds a count still running lets it be: ticks never pile up)
    this.#limits ??= setInterval(() => void (this.#counting === null && this.checkLimits().catch(this.#unexpected)), LIMIT_INTERVAL);
    const error = await this.update();
    if (error === null) return;
    if (this.#services.get(service.name) === service) this.#services.delete(service.name);
    await this.update();
    throw error;
  }

  /**
   * The service takes no new connection once this resolves; its live ones go on until they end
   * or the grace period (global.shutdown-grace) is over, and then its rules leave the kernel.
   */
  async remove(service: Service): Promise<void> {
    if (this.#services.get(service.name) !== service) return;
    this.#services.delete(service.name);
    const grace = this.#runtime.config?.global.shutdownGrace ?? 0;
    this.#departing.set(service, Date.now() + grace);
    this.#drain ??= this.#startDrain();
    await this.update();
  }

  /**
   * Renders and applies soon, together with whatever else changes meanwhile. Resolves with the
   * error of the apply that included this change (null when it went in); never rejects.
   */
  update(): Promise<Error | null> {
    this.#dirty = true;
    this.#loop ??= this.#run();
    return this.#loop;
  }

  /**
   * Stops following the runtime, lets departing services' connections finish for up to `grace`
   * ms, then removes our tables.
   */
  async close(grace = 0): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#runtime.events.off('member', this.#onMember);
    for (const service of [...this.#services.values()]) await this.remove(service);
    const deadline = Date.now() + grace;
    for (const [service, at] of this.#departing) this.#departing.set(service, Math.min(at, deadline));
    await this.#drain?.done;
    if (this.#watch !== null) clearInterval(this.#watch);
    this.#watch = null;
    if (this.#limits !== null) clearInterval(this.#limits);
    this.#limits = null;
    await this.#loop;
    if (this.#applied === null || this.#tools === null) return;
    try {
      await exec(this.#tools.nft, ['-f', '-'], removal());
      this.#applied = null;
    } catch (err) {
      this.#log.error({ reason: (err as Error).message }, 'kernel: cannot remove the nftables tables');
    }
  }

  /**
   * Full-NAT over IPv6 takes the source IPv6's rules choose, and a VIP that is a preferred /128 on
   * an interface beats the balancer's own /64 on longest match: members would get packets from
   * the VIP. Said once, when the service is added (docs/kernel-path.md, "Full-NAT").
   */
  async #checkSnatSource(service: Service): Promise<void> {
    const config = service.config;
    const vip = config.listen.ip ?? config.listen.host;
    if (config.kernel?.sourceNat !== true || !vip.includes(':')) return;
    let listed: string;
    try {
      listed = (await exec('ip', ['-6', '-o', 'addr', 'show', 'to', `${vip}/128`])).stdout;
    } catch {
      return; // no iproute2: nothing to say
    }
    // `2: eth0    inet6 2001:db8::100/128 scope global nodad ...`; on lo it is never chosen
    const preferred = listed.split('\n').filter((line) => line.trim() !== '' && !line.includes(' deprecated') && line.split(/\s+/)[1] !== 'lo');
    if (preferred.length === 0) return;
    this.#log.warn({ service: service.name, vip, interface: preferred[0].split(/\s+/)[1] },
      'kernel: the VIP is a preferred address here, so full-NAT may send members packets from it: add it with preferred_lft 0');
  }

  /**
   * max-connections in the kernel: counts the open connections of every member that has a limit
   * (conntrack for nat, the flow sets for dsr; a member of several services counts all of them);
   * one at its limit is left out of new choices until it is below it again — as LVS's upper
   * threshold, within LIMIT_INTERVAL. Resolves once the ruleset reflects the count.
   */
  async checkLimits(): Promise<Error | null> {
    // one count at a time; a caller that comes during one gets a fresh count after it
    while (this.#counting !== null) await this.#counting;
    if (this.#closed) return null;
    const counting = this.#countLimits();
    this.#counting = counting;
    try {
      return await counting;
    } finally {
      this.#counting = null;
    }
  }

  async #countLimits(): Promise<Error | null> {
    try {
      const counts = new Map<Member, number>();
      let limited = false;
      for (const service of this.#services.values()) {
        if (!service.pool.members.some((m) => m.maxConnections > 0)) continue;
        limited = true;
        for (const row of await this.connections({ service: service.name })) {
          if (row.member !== null && (row.mode === 'dsr' || isOpen(row))) counts.set(row.member, (counts.get(row.member) ?? 0) + 1);
        }
      }
      if (!limited && this.#full.size === 0) return null;
      const full = new Set<Member>();
      for (const [member, count] of counts) if (member.maxConnections > 0 && count >= member.maxConnections) full.add(member);
      if (full.size === this.#full.size && [...full].every((m) => this.#full.has(m))) return null;
      for (const m of full) if (!this.#full.has(m)) this.#log.info({ pool: m.poolName, member: m.id, limit: m.maxConnections }, 'kernel: member at max-connections; no new connections until it is below');
      for (const m of this.#full) if (!full.has(m)) this.#log.info({ pool: m.poolName, member: m.id }, 'kernel: member below max-connections again');
      this.#full = full;
      return await this.update();
    } catch (err) {
      this.#log.warn({ reason: (err as Error).message }, 'kernel: cannot count connections for max-connections');
      return err as Error;
    }
  }

  // ---- KernelTables -----------------------------------------------------------------------

  async connections(filter: ConnectionFilter = {}): Promise<KernelConnection[]> {
    const out: KernelConnection[] = [];
    for (const [view, service] of this.#shown(filter.service)) {
      const rows = view.mode === 'nat'
        ? (this.#tools?.conntrack == null ? [] : await conntrackRows(this.#tools.conntrack, view, service))
        : await flowRows(this.#tools!.nft, view, service);
      out.push(...rows.filter((r) => filter.member === undefined || r.member === filter.member));
    }
    return out;
  }

  async sticky(name: string): Promise<StickyEntry[]> {
    const out: StickyEntry[] = [];
    for (const [view, service] of this.#shown(name)) out.push(...await stickyEntries(this.#tools!.nft, view, service));
    return out;
  }

  /** The services whose rules are in the kernel (departing ones too), with their views. */
  #shown(name: string | undefined): [KernelServiceView, Service][] {
    const live = [...this.#services.values(), ...this.#departing.keys()];
    return live
      .filter((s) => name === undefined || s.name === name)
      .flatMap((s): [KernelServiceView, Service][] => {
        const view = this.#views.get(s.name);
        return view === undefined || this.#tools === null ? [] : [[view, s]];
      });
  }

  // ---- applying ---------------------------------------------------------------------------

  /** A timer's work threw (a fault of ours): logged; the timer runs again next time. */
  #unexpected = (err: unknown): void => {
    this.#log.error({ err }, 'kernel: a periodic check failed unexpectedly');
  };

  #onMember = (member: Member, change: MemberChange): void => {
    if (!RENDERED.has(change.kind) || this.#closed) return;
    for (const service of this.#services.values()) {
      if (service.pool.name === member.poolName) {
        void this.update();
        return;
      }
    }
  };

  async #run(): Promise<Error | null> {
    let error: Error | null = null;
    try {
      // Let the rest of this turn's changes (a reload, a burst of health results) join in.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.#dirty) {
        this.#dirty = false;
        error = await this.#applyOnce();
      }
    } catch (err) {
      // a fault of ours (rendering, not nft: its failures are returned): update() never rejects,
      // so callers that do not wait for it cannot leave an unhandled rejection behind
      error = err instanceof Error ? err : new Error(String(err));
      this.#log.error({ err }, 'kernel: the ruleset could not be built; the one in the kernel stays');
    } finally {
      this.#loop = null;
    }
    return error;
  }

  async #applyOnce(): Promise<Error | null> {
    if (this.#tools === null) return this.#services.size === 0 ? null : new Error('kernel tools missing');
    const views = [
      ...[...this.#services.values()].map((s) => this.#view(s, true)),
      ...[...this.#departing.keys()].map((s) => this.#view(s, false)),
    ];
    if (views.length === 0 && this.#applied === null) return null;
    const { script, applied } = transaction(this.#applied, render(views));
    try {
      await exec(this.#tools.nft, ['-f', '-'], script);
    } catch (err) {
      this.#log.error({ reason: (err as Error).message }, 'kernel: ruleset not applied; the previous one stays');
      return new Error(`nft did not apply the ruleset: ${(err as Error).message}`);
    }
    this.#applied = views.length === 0 ? null : applied;
    const previous = this.#views;
    this.#views = new Map(views.map((v) => [v.name, v]));
    this.#log.debug({ services: this.#services.size, departing: this.#departing.size }, 'kernel: ruleset applied');
    await this.#flushConnections(previous);
    return null;
  }

  #checkTools(): KernelTools {
    const services = [...this.#runtime.services.values()]
      .filter((s) => s.config.kernel != null)
      .map((s) => needsOf(s.name, s.config));
    const { tools, errors, warnings } = checkRequirements(services);
    for (const warning of warnings) this.#log.warn(warning);
    if (tools === null) throw new Error(errors.join('; '));
    return tools;
  }

  #view(service: Service, accepting: boolean): KernelServiceView {
    let numbers = this.#numbers.get(service.name);
    if (numbers === undefined) this.#numbers.set(service.name, (numbers = new Map()));
    const members = service.pool.members.map((m): KernelMemberView => {
      const key = `${m.poolName}/${m.id}`;
      let number = numbers.get(key);
      if (number === undefined) numbers.set(key, (number = numbers.size));
      // `available`, not `usable`: max-connections is the kernel's own count (checkLimits), not `active`.
      return { number, id: m.id, ip: m.ip, port: m.port, weight: m.weight, backup: m.backup, usable: m.available && !this.#full.has(m), serves: m.servesExisting };
    });
    return { ...serviceView(service.name, service.config, service.pool.algorithm, members), accepting };
  }

  /** flush-on-down, nat: conntrack entries of members that stopped serving or left the pool. */
  async #flushConnections(previous: Map<string, KernelServiceView>): Promise<void> {
    const conntrack = this.#tools?.conntrack;
    if (conntrack == null) return;
    for (const view of this.#views.values()) {
      const before = previous.get(view.name);
      if (view.mode !== 'nat' || !view.flushOnDown || !view.accepting || before === undefined) continue;
      const now = new Map(view.members.map((m) => [m.number, m]));
      for (const m of before.members) {
        if (!m.serves || now.get(m.number)?.serves === true) continue;
        try {
          const deleted = await deleteConnections(conntrack, { protocol: view.protocol, vip: view.vip, port: view.port }, m);
          this.#log.info({ service: view.name, member: m.id, deleted }, 'kernel: flushed the connections of a member that stopped serving');
        } catch (err) {
          this.#log.error({ service: view.name, member: m.id, reason: (err as Error).message }, 'kernel: cannot flush connections');
        }
      }
    }
  }

  // ---- departing services -----------------------------------------------------------------

  #startDrain(): { timer: NodeJS.Timeout; done: Promise<void>; resolve: () => void } {
    let resolve: () => void = () => {};
    const done = new Promise<void>((r) => (resolve = r));
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void this.#drainStep().catch(this.#unexpected).finally(() => (busy = false));
    }, DRAIN_INTERVAL);
    return { timer, done, resolve };
  }

  /** Lets go of the departing services whose connections have ended or whose time is up. */
  async #drainStep(): Promise<void> {
    const now = Date.now();
    let gone = 0;
    for (const [service, deadline] of [...this.#departing]) {
      if (now < deadline && await this.#hasConnections(service)) continue;
      // a service added again under its name meanwhile has taken its place already
      if (this.#departing.delete(service)) gone++;
    }
    if (gone > 0) {
      if (this.#services.size === 0) this.#numbers.clear();
      await this.update();
    }
    if (this.#departing.size === 0 && this.#drain !== null) {
      clearInterval(this.#drain.timer);
      this.#drain.resolve();
      this.#drain = null;
      if (this.#services.size === 0 && this.#watch !== null && !this.#closed) {
        clearInterval(this.#watch);
        this.#watch = null;
        if (this.#limits !== null) clearInterval(this.#limits);
        this.#limits = null;
      }
    }
  }

  async #hasConnections(service: Service): Promise<boolean> {
    try {
      const rows = await this.connections({ service: service.name });
      return rows.some((r) => r.mode === 'dsr' || isOpen(r));
    } catch {
      return false;
    }
  }

  /** Someone removed our tables: apply everything again, from scratch. */
  async #checkTables(): Promise<void> {
    const applied = this.#applied;
    if (applied === null || this.#tools === null || this.#loop !== null) return;
    for (const family of applied.keys()) {
      try {
        await exec(this.#tools.nft, ['list', 'table', family, TABLE]);
      } catch {
        if (this.#applied !== applied) return;
        this.#log.warn({ family }, 'kernel: our nftables table is gone (flushed from outside?); applying the ruleset again');
        this.#applied = null;
        void this.update();
        return;
      }
    }
  }
}

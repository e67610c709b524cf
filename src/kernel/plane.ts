// The kernel fast path as a control plane: the nat and dsr services of the runtime, rendered
// into our own nftables tables and applied in one transaction whenever something they depend on
// changes — a service added or removed, a reload, a member's health, admin state, agent word or
// weight. Changes that arrive together (a burst of health results, a reload) are applied as one.
//
// A service that goes (reload, stop) drains first (drain.ts); members at their max-connections
// are counted and left out (limits.ts). The plane also answers for the kernel's state:
// connections (conntrack; dsr flow sets) and persistence entries.

import type { Logger } from '../log.ts';
import type { ConnectionFilter } from '../runtime/connection-table.ts';
import type { MemberChange } from '../runtime/events.ts';
import type { KernelConnection, KernelTables, StickyEntry } from '../runtime/kernel-tables.ts';
import type { Member } from '../runtime/member.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { Service } from '../runtime/service.ts';
import { deleteConnection, deleteConnections } from './conntrack.ts';
import { Drain } from './drain.ts';
import { endFlow, endFlows, FlowIds } from './dsr-flows.ts';
import { exec } from './exec.ts';
import { ConnectionLimits } from './limits.ts';
import { openConnections } from './open-connections.ts';
import { conntrackRows, flowRows, stickyEntries, stickyFamily, stickyFromSets } from './reading.ts';
import { flows, render, TABLE } from './render.ts';
import { listSet, listSets } from './set-elements.ts';
import { adoptScript, type AdoptedEntry } from './sticky-adopt.ts';
import { checkRequirements, needsOf, type KernelTools } from './requirements.ts';
import { serviceView } from './snapshot.ts';
import { removal, transaction, type Applied } from './transaction.ts';
import type { KernelMemberView, KernelServiceView } from './view.ts';

/**
 * How often the tables are checked for still being there: `nft flush ruleset` or a restart of
 * the host's firewall service removes them, and the services would be gone without a word.
 */
const WATCH_INTERVAL = 10_000;

/** Changes that make a member take or lose connections (max-connections: limits.ts). */
const RENDERED: ReadonlySet<MemberChange['kind']> = new Set(['health', 'admin', 'agent', 'weight', 'ejection']);

export class KernelPlane implements KernelTables {
  readonly #runtime: Runtime;
  readonly #log: Logger;
  readonly #services = new Map<string, Service>();
  /** services on their way out: no new connections; their rules go at their deadline or when idle */
  readonly #departing: Drain;
  readonly #limits: ConnectionLimits;
  /** the ids the connection table shows for dsr flows */
  readonly #flowIds = new FlowIds();
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
  /** the peer's persistence entries being added (adoptSticky), one nft call after the other */
  #adopting: Promise<void> = Promise.resolve();

  constructor(runtime: Runtime, log: Logger) {
    this.#runtime = runtime;
    this.#log = log;
    this.#departing = new Drain({
      open: async (services) => {
        if (this.#tools === null) return new Map();
        return (await openConnections(this.#tools, this.#shown(undefined).filter(([, s]) => services.includes(s)))).services;
      },
      released: async () => {
        if (this.#services.size === 0) this.#numbers.clear();
        await this.update();
      },
      drained: () => {
        if (this.#services.size > 0 || this.#closed) return;
        this.#stopWatching(false);
      },
      unexpected: this.#unexpected,
    }, log);
    this.#limits = new ConnectionLimits({
      limited: () => this.#shown(undefined, false),
      tools: () => this.#tools,
      update: () => this.update(),
      unexpected: this.#unexpected,
    }, log);
    runtime.events.on('member', this.#onMember);
  }

  /** The service's rules are in the kernel when this resolves; rejects with nft's or a requirement's error. */
  async add(service: Service): Promise<void> {
    this.#tools ??= this.#checkTools();
    // a service added by a reload may name an interface the first check did not see
    const { errors } = checkRequirements([needsOf(service.name, service.config)]);
    const missing = errors.filter((e) => e.startsWith(`services.${service.name}.interface`));
    if (missing.length > 0) throw new Error(missing.join('; '));
    this.#departing.forget(service.name);
    await this.#checkSnatSource(service);
    this.#services.set(service.name, service);
    this.#watch ??= setInterval(() => void this.#checkTables().catch(this.#unexpected), WATCH_INTERVAL);
    this.#limits.start();
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
    this.#departing.depart(service, Date.now() + grace);
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
    this.#limits.stop(true);
    this.#runtime.events.off('member', this.#onMember);
    for (const service of [...this.#services.values()]) await this.remove(service);
    await this.#departing.finish(Date.now() + grace);
    this.#stopWatching(true);
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

  /** Counts max-connections now (limits.ts); resolves once the ruleset reflects the count. */
  checkLimits(): Promise<Error | null> {
    return this.#limits.check();
  }

  #stopWatching(closed: boolean): void {
    if (this.#watch !== null) clearInterval(this.#watch);
    this.#watch = null;
    this.#limits.stop(closed);
  }

  // ---- KernelTables -----------------------------------------------------------------------

  async connections(filter: ConnectionFilter = {}): Promise<KernelConnection[]> {
    const out: KernelConnection[] = [];
    const shown = this.#shown(filter.service);
    if (filter.service === undefined) this.#flowIds.keep(new Set(shown.map(([view]) => view.name)));
    for (const [view, service] of shown) {
      const rows = view.mode === 'nat'
        ? (this.#tools?.conntrack == null ? [] : await conntrackRows(this.#tools.conntrack, view, service))
        : await flowRows(this.#tools!.nft, view, service, this.#flowIds);
      out.push(...rows.filter((r) => filter.member === undefined || r.member === filter.member));
    }
    return out;
  }

  async sticky(name: string): Promise<StickyEntry[]> {
    const out: StickyEntry[] = [];
    for (const [view, service] of this.#shown(name)) out.push(...await stickyEntries(this.#tools!.nft, view, service));
    return out;
  }

  async allSticky(): Promise<StickyEntry[]> {
    const shown = this.#shown(undefined).filter(([view]) => view.persistence !== null);
    const out: StickyEntry[] = [];
    for (const family of ['inet', 'netdev'] as const) {
      const here = shown.filter(([view]) => stickyFamily(view) === family);
      if (here.length === 0) continue;
      const sets = await listSets(this.#tools!.nft, family);
      for (const [view, service] of here) out.push(...stickyFromSets(sets, view, service));
    }
    return out;
  }

  adoptSticky(name: string, entries: readonly AdoptedEntry[]): number {
    const view = this.#views.get(name);
    if (view === undefined || !view.accepting || this.#tools === null || this.#closed) return 0;
    const { script, taken } = adoptScript(view, entries);
    if (taken === 0) return 0;
    const nft = this.#tools.nft;
    // one after the other, in order; a set a new ruleset removed meanwhile fails the batch, which is logged
    this.#adopting = this.#adopting.then(async () => {
      if (!this.#closed) await exec(nft, ['-f', '-'], script);
    }).then(
      () => undefined,
      (err: unknown) => this.#log.warn({ service: name, entries: taken, reason: (err as Error).message }, 'kernel: persistence entries from a peer not added'),
    );
    return taken;
  }

  async end(k: KernelConnection): Promise<number> {
    if (k.mode === 'dsr') {
      const view = this.#views.get(k.service);
      const member = view?.members.find((m) => m.ip === k.target.address && m.port === k.target.port);
      // its service or member left the kernel meanwhile, and its flow set with it
      if (view === undefined || member === undefined || this.#tools === null) return 0;
      return endFlow(this.#tools.nft, view, member, k.client);
    }
    const conntrack = this.#tools?.conntrack;
    if (conntrack == null) throw new Error('conntrack not found: nat connections cannot be ended');
    return deleteConnection(conntrack, { protocol: k.protocol, src: k.client.address, sport: k.client.port, dst: k.vip.address, dport: k.vip.port });
  }

  async endAll(filter: ConnectionFilter, pool?: string): Promise<number> {
    const conntrack = this.#tools?.conntrack;
    let ended = 0;
    for (const [view, service] of this.#shown(filter.service)) {
      if (pool !== undefined && service.pool.name !== pool) continue;
      for (const m of view.members) {
        if (filter.member !== undefined && (filter.member.poolName !== service.pool.name || filter.member.id !== m.id)) continue;
        if (view.mode === 'nat') {
          if (conntrack != null) ended += await deleteConnections(conntrack, { protocol: view.protocol, vip: view.vip, port: view.port }, m);
          continue;
        }
        const keys = (await listSet(this.#tools!.nft, 'netdev', flows(view, m))).map((e) => ({ address: String(e.key[0]), port: Number(e.key[1]) }));
        if (keys.length > 0) ended += await endFlows(this.#tools!.nft, view, m, keys);
      }
    }
    return ended;
  }

  /** The services whose rules are in the kernel (departing ones too, unless not `departing`), with their views. */
  #shown(name: string | undefined, departing = true): [KernelServiceView, Service][] {
    const live = departing ? [...this.#services.values(), ...this.#departing.services()] : [...this.#services.values()];
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
      ...[...this.#departing.services()].map((s) => this.#view(s, false)),
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
      // `available`, not `usable`: max-connections is the kernel's own count (limits.ts), not `active`.
      return { number, id: m.id, ip: m.ip, port: m.port, weight: m.weight, backup: m.backup, usable: m.available && !this.#limits.isFull(m), serves: m.servesExisting };
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

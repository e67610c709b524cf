// The kernel fast path as a control plane: the nat and dsr services of the runtime, rendered
// into our own nftables tables and applied in one transaction whenever something they depend on
// changes — a service added or removed, a reload, a member's health, admin state, agent word or
// weight. Changes that arrive together (a burst of health results, a reload) are applied as one.
// It also answers for the kernel's state: connections (conntrack; dsr flow sets) and
// persistence entries, through the runtime's KernelTables.

import type { Logger } from '../log.ts';
import type { ConnectionFilter } from '../runtime/connection-table.ts';
import type { MemberChange } from '../runtime/events.ts';
import type { KernelConnection, KernelTables, StickyEntry } from '../runtime/kernel-tables.ts';
import type { Member } from '../runtime/member.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { Service } from '../runtime/service.ts';
import { deleteConnections, listConnections } from './conntrack.ts';
import { exec } from './exec.ts';
import { flows, render, sticky, TABLE } from './render.ts';
import { checkRequirements, type KernelTools } from './requirements.ts';
import { listSet } from './set-elements.ts';
import { serviceView } from './snapshot.ts';
import { removal, transaction, type Applied } from './transaction.ts';
import type { KernelMemberView, KernelServiceView } from './view.ts';

/**
 * How often the tables are checked for still being there: `nft flush ruleset` or a restart of
 * the host's firewall service removes them, and the services would be gone without a word.
 */
const WATCH_INTERVAL = 10_000;

/** Changes that make a member take or lose connections; max-connections is not enforced here. */
const RENDERED: ReadonlySet<MemberChange['kind']> = new Set(['health', 'admin', 'agent', 'weight']);

export class KernelPlane implements KernelTables {
  readonly #runtime: Runtime;
  readonly #log: Logger;
  readonly #services = new Map<string, Service>();
  /** per service, member key -> number: names chains and sets, never reused in this process */
  readonly #numbers = new Map<string, Map<string, number>>();
  /** per service, what the last applied ruleset had: for flush-on-down */
  #views = new Map<string, KernelServiceView>();
  #tools: KernelTools | null = null;
  #applied: Applied | null = null;
  /** the running apply loop; it re-renders while changes keep arriving */
  #loop: Promise<Error | null> | null = null;
  #dirty = false;
  #closed = false;
  /** also what keeps the process alive when the kernel services are all it runs */
  #watch: NodeJS.Timeout | null = null;

  constructor(runtime: Runtime, log: Logger) {
    this.#runtime = runtime;
    this.#log = log;
    runtime.events.on('member', this.#onMember);
  }

  /** The service's rules are in the kernel when this resolves; rejects with nft's or a requirement's error. */
  async add(service: Service): Promise<void> {
    this.#tools ??= this.#checkTools();
    this.#services.set(service.name, service);
    this.#watch ??= setInterval(() => void this.#checkTables(), WATCH_INTERVAL);
    const error = await this.update();
    if (error === null) return;
    if (this.#services.get(service.name) === service) this.#services.delete(service.name);
    await this.update();
    throw error;
  }

  /** Takes the service's rules out (the tables go with the last service). */
  async remove(service: Service): Promise<void> {
    if (this.#services.get(service.name) !== service) return;
    this.#services.delete(service.name);
    this.#numbers.delete(service.name);
    if (this.#services.size === 0 && this.#watch !== null) {
      clearInterval(this.#watch);
      this.#watch = null;
    }
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

  /** Removes our tables and stops following the runtime. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#runtime.events.off('member', this.#onMember);
    this.#services.clear();
    if (this.#watch !== null) clearInterval(this.#watch);
    this.#watch = null;
    await this.#loop;
    if (this.#applied === null || this.#tools === null) return;
    try {
      await exec(this.#tools.nft, ['-f', '-'], removal());
      this.#applied = null;
    } catch (err) {
      this.#log.error({ reason: (err as Error).message }, 'kernel: cannot remove the nftables tables');
    }
  }

  // ---- KernelTables -----------------------------------------------------------------------

  async connections(filter: ConnectionFilter = {}): Promise<KernelConnection[]> {
    const out: KernelConnection[] = [];
    for (const view of this.#views.values()) {
      if (filter.service !== undefined && view.name !== filter.service) continue;
      const service = this.#services.get(view.name);
      if (service === undefined) continue;
      const rows = view.mode === 'nat' ? await this.#conntrackRows(view, service) : await this.#flowRows(view, service);
      out.push(...rows.filter((r) => filter.member === undefined || r.member === filter.member));
    }
    return out;
  }

  async sticky(name: string): Promise<StickyEntry[]> {
    const view = this.#views.get(name);
    const service = this.#services.get(name);
    if (view === undefined || service === undefined || view.persistence === null || this.#tools === null) return [];
    const family = view.mode === 'nat' ? 'inet' : 'netdev';
    const suffix = view.persistence.prefix >= (view.family === 'ip' ? 32 : 128) ? '' : `/${view.persistence.prefix}`;
    const out: StickyEntry[] = [];
    for (const m of view.members) {
      const elements = await listSet(this.#tools.nft, family, sticky(view, m));
      const member = memberByNumber(service, this.#numbers.get(name), m.number);
      for (const e of elements) out.push({ service: name, key: `${e.key[0]}${suffix}`, member, expiresIn: e.expires * 1000 });
    }
    return out;
  }

  // ---- applying ---------------------------------------------------------------------------

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
    } finally {
      this.#loop = null;
    }
    return error;
  }

  async #applyOnce(): Promise<Error | null> {
    if (this.#tools === null) return this.#services.size === 0 ? null : new Error('kernel tools missing');
    const views = [...this.#services.values()].map((s) => this.#view(s));
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
    this.#log.debug({ services: views.length }, 'kernel: ruleset applied');
    await this.#flushConnections(previous);
    return null;
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

  #checkTools(): KernelTools {
    const services = [...this.#runtime.services.values()]
      .filter((s) => s.config.kernel != null)
      .map((s) => ({ name: s.name, mode: s.config.mode, interface: s.config.kernel!.interface, flushOnDown: s.config.kernel!.flushOnDown }));
    const { tools, errors, warnings } = checkRequirements(services);
    for (const warning of warnings) this.#log.warn(warning);
    if (tools === null) throw new Error(errors.join('; '));
    return tools;
  }

  #view(service: Service): KernelServiceView {
    let numbers = this.#numbers.get(service.name);
    if (numbers === undefined) this.#numbers.set(service.name, (numbers = new Map()));
    const members = service.pool.members.map((m): KernelMemberView => {
      const key = `${m.poolName}/${m.id}`;
      let number = numbers.get(key);
      if (number === undefined) numbers.set(key, (number = numbers.size));
      // `available`, not `usable`: the kernel does not count connections against max-connections.
      return { number, id: m.id, ip: m.ip, port: m.port, weight: m.weight, backup: m.backup, usable: m.available, serves: m.servesExisting };
    });
    return serviceView(service.name, service.config, service.pool.algorithm, members);
  }

  /** flush-on-down, nat: conntrack entries of members that stopped serving or left the pool. */
  async #flushConnections(previous: Map<string, KernelServiceView>): Promise<void> {
    const conntrack = this.#tools?.conntrack;
    if (conntrack == null) return;
    for (const view of this.#views.values()) {
      const before = previous.get(view.name);
      if (view.mode !== 'nat' || !view.flushOnDown || before === undefined) continue;
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

  // ---- reading the kernel's tables --------------------------------------------------------

  async #conntrackRows(view: KernelServiceView, service: Service): Promise<KernelConnection[]> {
    const conntrack = this.#tools?.conntrack;
    if (conntrack == null) return [];
    const entries = await listConnections(conntrack, { protocol: view.protocol, vip: view.vip, port: view.port });
    const now = Date.now();
    const rows: KernelConnection[] = [];
    for (const e of entries) {
      // Not translated: it found no member (and was rejected), or predates the service.
      if (e.reply.src === view.vip && e.reply.sport === view.port) continue;
      const member = service.pool.members.find((m) => m.ip === e.reply.src && m.port === e.reply.sport) ?? null;
      const snat = e.reply.dst !== e.original.src || e.reply.dport !== e.original.sport;
      rows.push({
        id: e.id,
        protocol: view.protocol,
        service: view.name,
        mode: 'nat',
        client: { address: e.original.src, port: e.original.sport },
        vip: { address: e.original.dst, port: e.original.dport },
        member,
        target: { address: e.reply.src, port: e.reply.sport },
        local: snat ? { address: e.reply.dst, port: e.reply.dport } : null,
        state: e.state,
        expiresIn: e.timeout * 1000,
        startedAt: e.age === null ? null : now - e.age * 1000,
        bytesIn: e.original.bytes,
        bytesOut: e.reply.bytes,
      });
    }
    return rows;
  }

  async #flowRows(view: KernelServiceView, service: Service): Promise<KernelConnection[]> {
    if (this.#tools === null) return [];
    const rows: KernelConnection[] = [];
    for (const m of view.members) {
      const member = memberByNumber(service, this.#numbers.get(view.name), m.number);
      for (const e of await listSet(this.#tools.nft, 'netdev', flows(view, m))) {
        const [address, port] = e.key;
        rows.push({
          id: 0,
          protocol: view.protocol,
          service: view.name,
          mode: 'dsr',
          client: { address: String(address), port: Number(port) },
          vip: { address: view.vip, port: view.port },
          member,
          target: { address: m.ip, port: m.port },
          local: null,
          state: 'forwarding',
          expiresIn: e.expires * 1000,
          startedAt: null,
          bytesIn: null,
          bytesOut: null,
        });
      }
    }
    return rows;
  }
}

function memberByNumber(service: Service, numbers: Map<string, number> | undefined, number: number): Member | null {
  for (const [key, n] of numbers ?? []) {
    if (n !== number) continue;
    const id = key.slice(key.indexOf('/') + 1);
    return service.pool.members.find((m) => m.id === id && key.startsWith(`${m.poolName}/`)) ?? null;
  }
  return null;
}

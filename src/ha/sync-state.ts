// What the replication link carries, as state: the stick table entries of every service whose
// persistence keeps a table in furiwake (source-ip, tls-session), keyed by service, those the
// kernel keeps for nat and dsr services (kernel-sticky.ts; same messages), and what
// operators set on members (admin state, weight, connection limit; the latest change wins, a
// local one dated after whatever it replaces even when this node's clock is behind). Outgoing:
// changes since the last flush (a key changed twice is sent once) or, when a link comes up,
// everything. Incoming: applied without being reported back, so an entry never
// travels back to where it came from and two links between one pair cannot loop.
// Health is not here: each node checks its members itself.

import type { Member } from '../runtime/member.ts';
import type { OperatorSet } from '../runtime/events.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { StickObserver, StickTable } from '../persistence/stick-table.ts';
import { KernelStickyWatch } from './kernel-sticky.ts';
import { ADMIN_STATES, MAX_TEXT, type OperatorChange, type OperatorField, type StickEntryUpdate, type SyncMessage } from './sync-frame.ts';

/** entries per stick frame: about 100 KB, far below the frame limit */
const BATCH = 1_000;
/** services whose persistence the kernel keeps (nftables sets): replicated through kernel-sticky.ts */
const KERNEL_MODES: ReadonlySet<string> = new Set(['nat', 'dsr']);

/** What the node did with what a peer sent. */
export interface Applied {
  /** stick entries, deletions and operator changes taken */
  taken: number;
  /** those that name a service, pool or member this node does not have (configs differ), or came too late */
  ignored: number;
}

/** One table's changes since the last flush: key -> member, or null for a deletion. */
class TableWatch implements StickObserver {
  readonly service: string;
  readonly table: StickTable;
  readonly #state: SyncState;
  pending = new Map<string, string | null>();
  /** a clear to send before `pending`: '' every key, else a member id */
  clears: (string | null)[] = [];

  constructor(service: string, table: StickTable, state: SyncState) {
    this.service = service;
    this.table = table;
    this.#state = state;
  }

  set(key: string, member: string): void {
    if (!this.#state.recording || !fits(key, member)) return;
    this.pending.set(key, member);
    this.#state.onChange?.();
  }

  deleted(key: string): void {
    if (!this.#state.recording) return;
    this.pending.set(key, null);
    this.#state.onChange?.();
  }

  cleared(member: string | undefined): void {
    if (!this.#state.recording) return;
    // what was pending for those keys is gone with them; what comes after follows the clear
    if (member === undefined) this.pending.clear();
    else for (const [key, m] of this.pending) if (m === member) this.pending.delete(key);
    this.clears.push(member ?? null);
    this.#state.onChange?.();
  }
}

export class SyncState {
  readonly #runtime: Runtime;
  /** this node's name, in every operator change it makes */
  readonly node: string;
  /** whether a link is up: changes are kept for the next flush only then (a link coming up resyncs everything) */
  recording = false;
  /** called on each change kept for the next flush: a worker thread flushes at the next turn of its loop (workers/worker-sticks.ts) */
  onChange: (() => void) | null = null;
  readonly #watches = new Map<string, TableWatch>();
  /** pool \0 member \0 field -> the last operator change of it, from here or a peer */
  readonly #operator = new Map<string, OperatorChange>();
  /** local operator changes not yet sent */
  #operatorPending: OperatorChange[] = [];
  /** the persistence entries of nat and dsr services, read from the kernel */
  readonly kernel: KernelStickyWatch;

  constructor(runtime: Runtime, node: string) {
    this.#runtime = runtime;
    this.node = node;
    this.kernel = new KernelStickyWatch(runtime);
    runtime.events.on('operator', this.#onOperator);
  }

  close(): void {
    this.#runtime.events.off('operator', this.#onOperator);
    for (const [name, w] of this.#watches) this.#unwatch(name, w);
  }

  /** Watches the stick table of every service (a reload may have made new ones, or removed some). */
  watchTables(): void {
    for (const service of this.#runtime.services.values()) {
      const table = tableOf(this.#runtime, service.name);
      const watch = this.#watches.get(service.name);
      if (watch !== undefined && watch.table === table && table.observer === watch) continue;
      if (watch !== undefined) this.#unwatch(service.name, watch);
      if (table === null) continue;
      const w = new TableWatch(service.name, table, this);
      table.observer = w;
      this.#watches.set(service.name, w);
    }
    for (const [name, w] of this.#watches) if (!this.#runtime.services.has(name)) this.#unwatch(name, w);
  }

  #unwatch(name: string, w: TableWatch): void {
    if (w.table.observer === w) w.table.observer = null;
    this.#watches.delete(name);
  }

  /** The changes since the last call, as messages; counts the stick entries in them. */
  flush(): { messages: SyncMessage[]; entries: number } {
    const messages: SyncMessage[] = [];
    let entries = 0;
    if (this.#operatorPending.length > 0) {
      messages.push({ type: 'operator', changes: this.#operatorPending });
      entries += this.#operatorPending.length;
      this.#operatorPending = [];
    }
    for (const w of this.#watches.values()) {
      for (const member of w.clears) messages.push({ type: 'clear', service: w.service, member });
      w.clears = [];
      if (w.pending.size === 0) continue;
      let sets: StickEntryUpdate[] = [];
      let deletes: string[] = [];
      for (const [key, member] of w.pending) {
        if (member === null) {
          deletes.push(key);
          if (deletes.length === BATCH) {
            messages.push({ type: 'unstick', service: w.service, keys: deletes });
            deletes = [];
          }
          continue;
        }
        const entry = w.table.peek(key);
        // gone since (expired, evicted): the peer expires it too
        if (entry === undefined || entry.member !== member) continue;
        sets.push({ key, member, expiresIn: entry.expiresIn });
        if (sets.length === BATCH) {
          messages.push({ type: 'stick', service: w.service, entries: sets });
          entries += sets.length;
          sets = [];
        }
      }
      w.pending.clear();
      if (deletes.length > 0) messages.push({ type: 'unstick', service: w.service, keys: deletes });
      if (sets.length > 0) messages.push({ type: 'stick', service: w.service, entries: sets });
      entries += sets.length;
    }
    entries += this.kernel.flush(messages);
    return { messages, entries };
  }

  /**
   * Everything, for a link that just came up: every operator change known, then per table the
   * keys deleted here lately (the peer may have missed the deletion while the link was down)
   * and every live entry.
   */
  *snapshot(): Generator<SyncMessage> {
    if (this.#operator.size > 0) yield { type: 'operator', changes: [...this.#operator.values()] };
    for (const w of this.#watches.values()) {
      const removed = w.table.removedKeys();
      for (let i = 0; i < removed.length; i += BATCH) yield { type: 'unstick', service: w.service, keys: removed.slice(i, i + BATCH) };
      let sets: StickEntryUpdate[] = [];
      for (const e of w.table.entries()) {
        if (!fits(e.key, e.member)) continue;
        sets.push({ key: e.key, member: e.member, expiresIn: e.expiresIn });
        if (sets.length === BATCH) {
          yield { type: 'stick', service: w.service, entries: sets };
          sets = [];
        }
      }
      if (sets.length > 0) yield { type: 'stick', service: w.service, entries: sets };
    }
  }

  /**
   * Applies what a peer sent. `resync`: it is part of the peer's full resynchronisation, whose
   * entries do not bring back a key deleted here (StickTable.adopt).
   */
  apply(m: SyncMessage, resync = false): Applied {
    switch (m.type) {
      case 'stick': {
        if (isKernel(this.#runtime, m.service)) {
          const taken = this.#runtime.kernel?.adoptSticky(m.service, m.entries) ?? 0;
          if (taken > 0) this.kernel.adopted(m.service, m.entries);
          return { taken, ignored: m.entries.length - taken };
        }
        // the service's table now: a reload may have removed or replaced it since the tables were last watched
        const table = tableOf(this.#runtime, m.service);
        const pool = this.#runtime.services.get(m.service)?.pool;
        if (table === null || pool === undefined) return { taken: 0, ignored: m.entries.length };
        let taken = 0;
        for (const e of m.entries) if (pool.member(e.member) !== undefined && table.adopt(e.key, e.member, e.expiresIn, resync)) taken++;
        return { taken, ignored: m.entries.length - taken };
      }
      case 'unstick': {
        const table = tableOf(this.#runtime, m.service);
        if (table === null) return { taken: 0, ignored: m.keys.length };
        for (const key of m.keys) table.unadopt(key);
        return { taken: m.keys.length, ignored: 0 };
      }
      case 'clear': {
        const table = tableOf(this.#runtime, m.service);
        if (table === null) return { taken: 0, ignored: 1 };
        table.forget(m.member ?? undefined);
        return { taken: 1, ignored: 0 };
      }
      case 'operator': {
        let taken = 0;
        for (const c of m.changes) if (this.#takeOperator(c)) taken++;
        return { taken, ignored: m.changes.length - taken };
      }
      default:
        return { taken: 0, ignored: 0 };
    }
  }

  /** The operator changes known, newest first: who set what on which member, and when. */
  operatorChanges(): OperatorChange[] {
    return [...this.#operator.values()].sort((a, b) => b.at - a.at);
  }

  #onOperator = (member: Member, change: OperatorSet): void => {
    if (!fits(member.poolName, member.id)) return;
    const now = Date.now();
    const record = (field: OperatorField, value: number): void => {
      const key = `${member.poolName}\0${member.id}\0${field}`;
      // Newer than anything known of it, whatever this node's clock says: on a node whose clock is
      // behind its peer's, an operator's change would otherwise lose to the one it replaced (the
      // peer ignoring it as older) and the two nodes would disagree until the next change.
      const known = this.#operator.get(key);
      const at = known === undefined || known.at < now ? now : known.at + 1;
      const c: OperatorChange = { pool: member.poolName, member: member.id, field, value, at, by: this.node };
      this.#operator.set(key, c);
      if (this.recording) this.#operatorPending.push(c);
    };
    if (change.state !== undefined) record('state', ADMIN_STATES.indexOf(change.state));
    if (change.weight !== undefined) record('weight', change.weight);
    if (change.maxConnections !== undefined) record('maxConnections', change.maxConnections);
  };

  /** Last writer wins: a change older than the one known is ignored (`later`). */
  #takeOperator(c: OperatorChange): boolean {
    const key = operatorKey(c);
    const known = this.#operator.get(key);
    if (known !== undefined && !later(c, known)) return false;
    const member = this.#runtime.member(c.pool, c.member);
    if (member === undefined) return false;
    this.#operator.set(key, c);
    if (c.field === 'state') member.setAdmin(ADMIN_STATES[c.value]);
    else if (c.field === 'weight') member.setWeight(c.value);
    else member.setMaxConnections(c.value);
    return true;
  }
}

/**
 * Whether change `c` wins over `known`: the later time; at the same time the larger node name;
 * from two nodes of one name (a wildcard listen address), the larger value, so both still agree.
 */
function later(c: OperatorChange, known: OperatorChange): boolean {
  if (c.at !== known.at) return c.at > known.at;
  if (c.by !== known.by) return c.by > known.by;
  return c.value > known.value;
}

/**
 * Whether these can travel: the link carries text of at most MAX_TEXT bytes. Keys and names are
 * shorter by far; only a member id made from a host name of 250 characters or more is not, and is
 * left out rather than sent in a frame the peer would refuse (dropping the link, again and again).
 */
function fits(a: string, b: string): boolean {
  return a.length <= MAX_TEXT && b.length <= MAX_TEXT;
}

function operatorKey(c: { pool: string; member: string; field: OperatorField }): string {
  return `${c.pool}\0${c.member}\0${c.field}`;
}

/** Whether the kernel keeps the service's persistence (a nat or dsr service of this node). */
function isKernel(runtime: Runtime, name: string): boolean {
  const service = runtime.services.get(name);
  return service !== undefined && KERNEL_MODES.has(service.config.mode);
}

/** The stick table furiwake keeps for a service (source-ip, tls-session); null: none, or the kernel keeps it. */
function tableOf(runtime: Runtime, name: string): StickTable | null {
  const service = runtime.services.get(name);
  if (service === undefined || KERNEL_MODES.has(service.config.mode)) return null;
  return service.persistence?.table ?? null;
}

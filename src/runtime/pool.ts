// A pool: members, the balancing algorithm over them, and the queue where connections wait
// when every member is at its limit. Backup members have a balancer of their own and are
// chosen only when no primary member is usable.

import type { Balancer } from '../balance/balancer.ts';
import { isSkipped } from '../balance/eligible.ts';
import { algorithm, createBalancer, createIndexedBalancer, indexedFor } from '../balance/index.ts';
import type { AlgorithmName, MemberConfig, PoolConfig } from '../config/types.ts';
import type { Health, MemberChange, RuntimeEvents } from './events.ts';
import { Member, type LoadWatcher } from './member.ts';
import { PassiveGroup } from './passive-health.ts';
import type { SharedQueue } from './shared-queue.ts';
import { WeightedHash } from './weighted-hash.ts';

/** A connection waiting for a member; `done` receives the member, or undefined on timeout. */
export interface Waiter {
  readonly hash: number;
  readonly done: (member: Member | undefined) => void;
  /** the member it waits for (persistence, when-full: wait); null: any member (also once a reload took its member out) */
  member: Member | null;
  timer: NodeJS.Timeout | null;
  /** its place in the order of arrival across worker threads (shared-queue.ts); 0 in one loop */
  readonly ticket: number;
  /** still in its pool's queue: false once served, cancelled or failed */
  waiting: boolean;
}

export class Pool implements LoadWatcher {
  readonly name: string;
  /** the pool's config as last applied (health, slow start, ... are read from it) */
  config: PoolConfig;
  algorithm: AlgorithmName;
  members: Member[] = [];
  queueMax: number;
  queueTimeout: number;
  /** connections that gave up waiting */
  queueTimeouts = 0;

  #primary: Balancer<Member>;
  #backup: Balancer<Member>;
  /**
   * every waiter, in the order they came; those cancelled stay until met (waiting false), so a
   * cancel is O(1): #cancelled counts them, and they are swept out once they are half
   */
  #waiting: Waiter[] = [];
  #cancelled = 0;
  /**
   * #serveQueue is walking #waiting: a cancel from a done() it calls must not sweep (replace)
   * the array under it; the walk sweeps once it is over
   */
  #serving = 0;
  /** members by id, for persistence's remembered ids */
  #byId = new Map<string, Member>();
  /** how many members are available (healthy and enabled: Member.available) */
  #available = 0;
  /** how many of them wait for a member of their own */
  #waitingForOwn = 0;
  readonly #events: RuntimeEvents;
  /** passive health's pool-wide part: its config and how many members are ejected */
  readonly passive: PassiveGroup;
  /** the balancers of the indexed form (#fit) */
  readonly #indexed = new WeakSet<Balancer<Member>>();
  /** acquireByHash's trees (primaries, backups), made at its first call */
  #byHash: [WeightedHash, WeightedHash] | null = null;
  /**
   * a member's weight changed since the balancers were last built, and the algorithm lays its
   * table out by weight (source-hash, maglev): rebuild them before picking
   */
  #reweighed = false;
  /** with worker threads: what the threads share of this pool's queue (shared-queue.ts); null in one loop */
  #shared: SharedQueue | null = null;

  constructor(name: string, config: PoolConfig, events: RuntimeEvents) {
    this.name = name;
    this.#events = events;
    this.config = config;
    this.algorithm = config.algorithm;
    this.queueMax = config.queue.max;
    this.queueTimeout = config.queue.timeout;
    this.passive = new PassiveGroup(config.passiveHealth);
    this.members = config.members.map((m) => new Member(name, m, events, startingHealth(config, m), this.passive));
    this.passive.size = this.members.length;
    for (const m of this.members) m.watcher = this;
    this.#index();
    this.#primary = createBalancer(this.algorithm, []);
    this.#backup = createBalancer(this.algorithm, []);
    this.#rebuild();
  }

  /** Clients waiting in this thread. */
  get queued(): number {
    return this.#waiting.length - this.#cancelled;
  }

  /** Clients waiting in every thread that shares this pool's queue (worker threads); in one loop, `queued`. */
  get queuedEverywhere(): number {
    return this.#shared === null ? this.queued : this.#shared.queued();
  }

  /** Whether its queue is shared with other threads (shareQueue). */
  get queueShared(): boolean {
    return this.#shared !== null;
  }

  /**
   * Serves this pool's queue from the places freed in every thread (worker threads), from now
   * on: set once, before the pool takes traffic; a reload keeps it.
   */
  shareQueue(shared: SharedQueue): void {
    this.#shared = shared;
    shared.attach(() => {
      if (this.#waiting.length > 0) this.#serveQueue();
      return this.queued;
    });
  }

  member(id: string): Member | undefined {
    return this.#byId.get(id);
  }

  /** A usable member not in `skip`, primaries first; counted as active. */
  acquire(hash: number, skip: readonly Member[] | null): Member | undefined {
    if (this.#reweighed) this.#rebuild();
    const member = this.#primary.pick(hash, skip) ?? this.#backup.pick(hash, skip);
    if (member === undefined) return undefined;
    // shared counts (worker threads): another worker took its last place since the pick
    if (!member.take()) return this.acquire(hash, skip === null ? [member] : [...skip, member]);
    member.total++;
    return member;
  }

  /**
   * A member chosen from `hash` alone, in proportion to the weights of the members that take new
   * clients (primaries first, then backups), counted as active: threads that see the same members
   * choose the same one without asking each other. Falls back to the algorithm when that one
   * cannot be taken (another thread took its last place).
   */
  acquireByHash(hash: number, skip: readonly Member[] | null): Member | undefined {
    if (this.#reweighed) this.#rebuild();
    // O(log n) while the sums are exact (weighted-hash.ts); else the scan, which reads `usable` live
    const tiers = (this.#byHash ??= this.#hashTiers());
    if (tiers[0].exact && tiers[1].exact) {
      for (let tier = 0; tier < 2; tier++) {
        const m = tiers[tier].pick(hash, skip);
        if (m === null) continue;
        if (!m.take()) break;
        m.total++;
        return m;
      }
      return this.acquire(hash, skip);
    }
    for (let tier = 0; tier < 2; tier++) {
      const backup = tier === 1;
      let total = 0;
      for (const m of this.members) if (m.backup === backup && m.usable && m.weight > 0 && !isSkipped(m, skip)) total += m.weight;
      if (total === 0) continue;
      let at = (hash >>> 0) % total;
      for (const m of this.members) {
        if (m.backup !== backup || !m.usable || m.weight <= 0 || isSkipped(m, skip)) continue;
        if (at >= m.weight) {
          at -= m.weight;
          continue;
        }
        if (!m.take()) break;
        m.total++;
        return m;
      }
      break;
    }
    return this.acquire(hash, skip);
  }

  /**
   * Takes `member`, the one persistence remembers for a client, counted as active, if it may
   * take that client: up and not disabled or stopped by its agent — a drained member still
   * serves its persistent clients — and under its limit. False leaves the choice to acquire().
   */
  acquireMember(member: Member): boolean {
    if (!member.servesExisting || member.full || !member.take()) return false;
    member.total++;
    return true;
  }

  /** A connection on `member` ended; its room goes to the first waiter. */
  release(member: Member, bytesIn: number, bytesOut: number): void {
    member.give();
    member.bytesIn += bytesIn;
    member.bytesOut += bytesOut;
    if (this.#waiting.length > 0) this.#serveQueue();
    // room nobody here took: clients queued in other threads may take it
    if (this.#shared !== null && this.#shared.waiting && !member.full) this.#shared.released();
  }

  /**
   * Whether a member is healthy and enabled. When acquire() found nothing but this is true,
   * the available members are at their limits: room will come, so a connection may wait.
   */
  hasAvailable(): boolean {
    return this.#available > 0;
  }

  /** A member's `available` changed (Member tells its pool): hasAvailable's count follows, O(1). */
  availableChanged(member: Member): void {
    // a member a reload took out may still tell: it no longer counts
    if (this.#byId.get(member.id) === member) this.#available += member.available ? 1 : -1;
  }

  /** queue.max counts the clients waiting in every thread. */
  get queueFull(): boolean {
    return this.queuedEverywhere >= this.queueMax;
  }

  /**
   * Waits for room — on `member` only, when given (it must be one that serves its clients); on
   * any member once that one stops serving — and `done(undefined)` after the queue timeout.
   */
  enqueue(hash: number, done: (member: Member | undefined) => void, member: Member | null = null): Waiter {
    const waiter: Waiter = { hash, done, member, timer: null, ticket: this.#shared === null ? 0 : this.#shared.ticket(), waiting: true };
    waiter.timer = setTimeout(() => {
      this.cancel(waiter);
      this.queueTimeouts++;
      done(undefined);
    }, this.queueTimeout);
    this.#waiting.push(waiter);
    if (member !== null) this.#waitingForOwn++;
    if (this.#shared !== null) this.#publish(this.#shared);
    return waiter;
  }

  /** Removes a waiter whose client went away: O(1), its place swept out later (#waiting). */
  cancel(waiter: Waiter): void {
    if (waiter.timer !== null) clearTimeout(waiter.timer);
    waiter.timer = null;
    if (!waiter.waiting) return;
    waiter.waiting = false;
    if (waiter.member !== null) this.#waitingForOwn--;
    this.#cancelled++;
    if (this.#serving === 0) this.#sweep();
    if (this.#shared !== null) this.#publish(this.#shared);
  }

  /** Drops the cancelled waiters' places once they are half the queue (and more than a few). */
  #sweep(): void {
    if (this.#cancelled <= 16 || 2 * this.#cancelled <= this.#waiting.length) return;
    this.#waiting = this.#waiting.filter((w) => w.waiting);
    this.#cancelled = 0;
  }

  /**
   * A member's usable, active, ramp or latency changed (Member tells its pool): its balancer
   * keeps members in trees by those (balance/indexed-turns.ts), O(log n) to re-key one.
   */
  loadChanged(member: Member): void {
    (member.backup ? this.#backup : this.#primary).changed(member);
    if (this.#byHash !== null) this.#byHash[member.backup ? 1 : 0].changed(member);
  }

  /**
   * A member's weight changed (Member tells its pool): O(log n) through changed() for the
   * algorithms that read weights as they go; the hashing ones rebuild their tables before the
   * next pick, so the weights a reload or a worker's state message sets one member after another
   * cost one rebuild, not one per member (O(n) each).
   */
  weightChanged(member: Member): void {
    if (algorithm(this.algorithm).rebuildsOnWeight) this.#reweighed = true;
    else this.loadChanged(member);
  }

  /** Called by the runtime for every change of one of this pool's members. */
  memberChanged(_member: Member, _change: MemberChange): void {
    if (this.#waiting.length > 0) this.#serveQueue();
  }

  /** Applies a reloaded config: members with the same id keep their state and counters. */
  reconfigure(config: PoolConfig): void {
    this.config = config;
    const previous = new Map(this.members.map((m) => [m.id, m]));
    this.members = config.members.map((mc) => {
      const live = previous.get(mc.id);
      if (live === undefined) {
        const member = new Member(this.name, mc, this.#events, startingHealth(config, mc), this.passive);
        member.watcher = this;
        return member;
      }
      previous.delete(mc.id);
      live.reconfigure(mc);
      return live;
    });
    for (const removed of previous.values()) removed.passive.dispose();
    this.#index();
    this.passive.config = config.passiveHealth;
    this.passive.size = this.members.length;
    // a waiter whose own member the reload took out waits for any member now: the removed one
    // would otherwise still serve it (or keep it waiting) while it finishes its connections
    if (this.#waitingForOwn > 0) {
      for (const waiter of this.#waiting) {
        if (!waiter.waiting || waiter.member === null || this.#byId.get(waiter.member.id) === waiter.member) continue;
        waiter.member = null;
        this.#waitingForOwn--;
      }
    }
    if (config.algorithm !== this.algorithm) {
      this.algorithm = config.algorithm;
      this.#primary = createBalancer(this.algorithm, []);
      this.#backup = createBalancer(this.algorithm, []);
    }
    this.queueMax = config.queue.max;
    this.queueTimeout = config.queue.timeout;
    this.#rebuild();
    if (this.#waiting.length > 0) this.#serveQueue();
  }

  /** Fails every waiter; used when the pool is removed or the process stops. */
  close(): void {
    for (const m of this.members) m.passive.dispose();
    // the queue is emptied before any waiter is told: a done() that cancels another (its client's
    // other requests) then finds it still waiting, and the counts are taken again after
    const failing = this.#waiting;
    this.#waiting = [];
    for (const waiter of failing) {
      if (!waiter.waiting) continue;
      waiter.waiting = false;
      if (waiter.timer !== null) clearTimeout(waiter.timer);
      waiter.timer = null;
      waiter.done(undefined);
    }
    this.#cancelled = 0;
    this.#waitingForOwn = 0;
    for (const waiter of this.#waiting) {
      if (!waiter.waiting) this.#cancelled++;
      else if (waiter.member !== null) this.#waitingForOwn++;
    }
    if (this.#shared !== null) this.#publish(this.#shared);
  }

  /** The members by id, and how many are available: O(n), at start and on reloads. */
  #index(): void {
    this.#byId = new Map(this.members.map((m) => [m.id, m]));
    this.#available = 0;
    for (const m of this.members) if (m.available) this.#available++;
  }

  #rebuild(): void {
    this.#reweighed = false;
    const primary = this.members.filter((m) => !m.backup);
    const backup = this.members.filter((m) => m.backup);
    this.#primary = this.#fit(this.#primary, primary);
    this.#backup = this.#fit(this.#backup, backup);
    if (this.#byHash !== null) {
      this.#byHash[0].build(primary);
      this.#byHash[1].build(backup);
    }
  }

  /** acquireByHash's trees, made at its first call (a pool that never hashes keeps none). */
  #hashTiers(): [WeightedHash, WeightedHash] {
    const tiers: [WeightedHash, WeightedHash] = [new WeightedHash(), new WeightedHash()];
    tiers[0].build(this.members.filter((m) => !m.backup));
    tiers[1].build(this.members.filter((m) => m.backup));
    return tiers;
  }

  /**
   * `balancer` updated to `members`, or the other form when their number crosses SCAN_UP_TO:
   * small pools scan (cheaper), large ones keep trees (balance/indexed-turns.ts).
   */
  #fit(balancer: Balancer<Member>, members: Member[]): Balancer<Member> {
    const indexed = indexedFor(this.algorithm, members.length);
    if (indexed === this.#indexed.has(balancer)) {
      balancer.update(members);
      return balancer;
    }
    const made = indexed ? createIndexedBalancer(this.algorithm, members) : createBalancer(this.algorithm, members);
    if (indexed) this.#indexed.add(made);
    return made;
  }

  /**
   * Gives room to waiters in the order they came. One that waits for its own member is served
   * only by that member (or by any once its member stops serving); when no member has room for
   * the others, only those still can be. With worker threads, the others wait too while another
   * thread holds a client that came before them (shared-queue.ts).
   */
  #serveQueue(): void {
    this.#serving++;
    try {
      this.#serveWaiting();
    } finally {
      this.#serving--;
    }
    if (this.#serving === 0) this.#sweep();
    if (this.#shared !== null) this.#publish(this.#shared);
  }

  #serveWaiting(): void {
    const waiting = this.#waiting;
    const shared = this.#shared;
    let anyFull = false;
    for (let i = 0; i < waiting.length;) {
      if (anyFull && this.#waitingForOwn === 0) break;
      const waiter = waiting[i];
      if (!waiter.waiting) {
        // cancelled: its place goes now
        waiting.splice(i, 1);
        this.#cancelled--;
        continue;
      }
      const own = waiter.member;
      let member: Member | undefined;
      if (own !== null && own.servesExisting) {
        member = this.acquireMember(own) ? own : undefined;
      } else if (!anyFull) {
        if (shared === null || !shared.olderElsewhere(waiter.ticket)) member = this.acquire(waiter.hash, null);
        anyFull = member === undefined;
      }
      if (member === undefined) {
        i++;
        continue;
      }
      waiting.splice(i, 1);
      waiter.waiting = false;
      if (own !== null) this.#waitingForOwn--;
      if (waiter.timer !== null) clearTimeout(waiter.timer);
      waiter.timer = null;
      waiter.done(member);
    }
  }

  /** Tells the other threads how many wait here, and the ticket of the oldest that any member may serve. */
  #publish(shared: SharedQueue): void {
    let head: number | null = null;
    for (const waiter of this.#waiting) {
      if (waiter.waiting && (waiter.member === null || !waiter.member.servesExisting)) {
        head = waiter.ticket;
        break;
      }
    }
    shared.update(this.queued, head);
  }
}

/** A new member with monitors starts 'checking' unless the pool says 'up' (health.initial-state). */
function startingHealth(config: PoolConfig, member: MemberConfig): Health {
  const monitors = member.health?.monitors ?? config.health.monitors;
  return monitors.length > 0 && config.health.initialState === 'checking' ? 'checking' : 'up';
}

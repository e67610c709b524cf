// The counters that decide, shared by every worker thread (issue 14): each member's `active`
// count in one slot of an Int32Array over a SharedArrayBuffer. The control side (main thread)
// owns the slots (CounterSlots): it gives each member one, keeps it across reloads, and hands the
// buffer and the slot numbers to the workers (postMessage shares a SharedArrayBuffer, it does not
// copy it). Workers count on the same memory through SharedCounters.
//
// How it plugs in (not wired yet; Member.active is still a plain field):
// - Member gets `slot` and the process's SharedCounters; `get active()` returns counters.read(slot),
//   so least-connections, weighted-least-connections, least-time, `full` and `usable` read the
//   one global count without changing.
// - Pool.acquire / acquireMember replace `member.active++` with counters.acquire(slot,
//   member.maxConnections): a pick reads `usable`, then another worker may take the last place
//   before the acquire, so a false acquire means "full after all": pick again with that member
//   in the skip list (as a retry does). Pool.release replaces `member.active--` with
//   counters.release(slot), and wakes its queue as now.
// - The control side calls CounterSlots.assign() with the members of each new config, sends the
//   slot numbers with the config, and calls sweep() once every worker has applied it: a removed
//   member's slot is reused only after no worker can acquire it and its live connections are over.

/**
 * One member's slot: 4 bytes. The most a process may hold: the buffer is this size from the
 * start (256 KiB of address space; the system gives memory only to the pages that are used).
 * Not a growable SharedArrayBuffer: on Node 24 an atomic operation on a view of one costs several
 * times as much (bench/README.md).
 */
export const MAX_SLOTS = 65_536;

/** The counts, as a worker (or the main thread) sees them: atomic operations on the shared buffer. */
export class SharedCounters {
  readonly buffer: SharedArrayBuffer;
  readonly #counts: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#counts = new Int32Array(buffer);
  }

  /**
   * One more on `slot` if that keeps it at most `limit` (0: no limit). A compare-and-swap loop:
   * of two threads racing for the last place, exactly one wins; the other sees the new count.
   */
  acquire(slot: number, limit: number): boolean {
    const counts = this.#counts;
    if (limit <= 0) {
      Atomics.add(counts, slot, 1);
      return true;
    }
    let seen = Atomics.load(counts, slot);
    while (seen < limit) {
      const was = Atomics.compareExchange(counts, slot, seen, seen + 1);
      if (was === seen) return true;
      seen = was;
    }
    return false;
  }

  /** One less on `slot`: one per successful acquire, never more. Returns the count left. */
  release(slot: number): number {
    return Atomics.sub(this.#counts, slot, 1) - 1;
  }

  read(slot: number): number {
    return Atomics.load(this.#counts, slot);
  }
}

/**
 * The control side's allocation of slots to members, by a key that names a member across
 * reloads (the runtime's: pool name and member id). A member that stays keeps its slot; a
 * removed one's slot is retired, and freed by sweep() once its count is 0. The buffer is
 * handed to the workers once, at their start: slots assigned later are in it already.
 */
export class CounterSlots {
  readonly counters: SharedCounters;
  readonly #buffer: SharedArrayBuffer;
  readonly #max: number;
  /** members configured now, and their slots */
  readonly #live = new Map<string, number>();
  /** slots of members no longer configured, until their count is 0 */
  readonly #retired = new Map<string, number>();
  /** slots given back, reused lowest first */
  readonly #free: number[] = [];
  /** slots never used yet start here */
  #next = 0;

  constructor(max = MAX_SLOTS) {
    if (!Number.isInteger(max) || max < 1 || max > MAX_SLOTS) throw new RangeError(`counter slots: max must be 1..${MAX_SLOTS}, got ${max}`);
    this.#max = max;
    this.#buffer = new SharedArrayBuffer(max * 4);
    this.counters = new SharedCounters(this.#buffer);
  }

  /** What workers need: the buffer (shared, not copied, by postMessage). */
  get buffer(): SharedArrayBuffer {
    return this.#buffer;
  }

  /** Slots in use: live and retired members. */
  get used(): number {
    return this.#live.size + this.#retired.size;
  }

  /** Slots of members removed whose connections are not all over yet. */
  get retired(): number {
    return this.#retired.size;
  }

  slotOf(key: string): number | undefined {
    return this.#live.get(key);
  }

  /**
   * The slots of exactly `keys` (the members of a new config). Members that stay keep theirs; a
   * member that comes back while its old slot is retired gets it back (its live connections still
   * count there); new members take free slots. Throws a RangeError, changing
   * nothing, when more than the maximum would be in use.
   */
  assign(keys: Iterable<string>): ReadonlyMap<string, number> {
    const wanted = [...new Set(keys)];
    const kept = new Set(wanted);
    const gone: string[] = [];
    for (const key of this.#live.keys()) if (!kept.has(key)) gone.push(key);
    const slots = this.change(gone, wanted);
    return new Map(wanted.map((key, i) => [key, slots[i]]));
  }

  /**
   * The same as assign() with the members of a new config, told only what differs: `gone`, keys
   * no longer configured (a key also in `added` stays), and `added`, keys that may be new (a key
   * already live keeps its slot). A reload that changes one pool of 1,000 costs that pool's
   * members, not all of them. Throws a RangeError, changing nothing, when more than the maximum
   * would be in use. Returns the slots of `added`, in its order.
   */
  change(gone: readonly string[], added: readonly string[]): number[] {
    const kept = new Set(added);
    let needed = 0;
    for (const key of kept) if (!this.#live.has(key) && !this.#retired.has(key)) needed++;
    // removed members keep their slots (retired) until swept: they are not room for new ones yet
    const after = this.used + needed;
    if (after > this.#max) {
      let leaving = 0;
      for (const key of gone) if (!kept.has(key) && this.#live.has(key)) leaving++;
      const members = this.#live.size - leaving + needed;
      throw new RangeError(`counter slots: ${members} members and ${after - members} removed ones still counting need more than ${this.#max} slots`);
    }
    for (const key of gone) {
      if (kept.has(key)) continue;
      const slot = this.#live.get(key);
      if (slot === undefined) continue;
      this.#live.delete(key);
      this.#retired.set(key, slot);
    }
    const slots: number[] = [];
    for (const key of added) {
      let slot = this.#live.get(key);
      if (slot === undefined) {
        slot = this.#retired.get(key) ?? this.#take();
        this.#retired.delete(key);
        this.#live.set(key, slot);
      }
      slots.push(slot);
    }
    return slots;
  }

  /**
   * Frees the retired slots whose count is 0. Call it once every worker runs a config without
   * those members (none can acquire them again). Returns how many stay retired.
   */
  sweep(): number {
    for (const [key, slot] of this.#retired) {
      if (this.counters.read(slot) !== 0) continue;
      this.#retired.delete(key);
      this.#free.push(slot);
    }
    this.#free.sort((a, b) => b - a);
    return this.#retired.size;
  }

  #take(): number {
    return this.#free.pop() ?? this.#next++;
  }
}

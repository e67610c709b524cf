// The stick table: what stateful persistence remembers, client key -> member id. Bounded by
// max-entries (the least recently used entry goes first) and expiring after `timeout` of
// inactivity (every lookup or record that finds the entry starts its timeout again).
//
// Built on lru-cache, with two of its defaults turned off on purpose: no `ttlAutopurge` (a timer
// per entry) and `ttlResolution: 0` (otherwise it arms a 1 ms timer to cache the clock). Expired
// entries are found lazily — on lookup, when they reach the LRU end, or when the table is read —
// so the table owns no timer and no handle, and a test can drive its clock.

import { LRUCache } from 'lru-cache';

export interface StickTableOptions {
  /** the most entries held; beyond it the least recently used is evicted */
  maxEntries: number;
  /** ms of inactivity after which an entry expires */
  timeout: number;
  /** monotonic ms; performance.now by default. Tests pass a clock they move by hand. */
  now?: () => number;
}

/** One remembered client, as the admin API shows it. */
export interface StickEntry {
  key: string;
  /** the id of the member the key sticks to */
  member: string;
  /** ms until the entry expires unless used again */
  expiresIn: number;
}

export interface StickCounters {
  /** lookups that found a live entry */
  hits: number;
  /** lookups that found none (never seen, expired or evicted) */
  misses: number;
  /** entries dropped because their timeout passed */
  expirations: number;
  /** live entries dropped to make room for a new key (max-entries reached) */
  evictions: number;
}

/**
 * A key made flat for keeping. V8 holds a string built by concatenation (`${net}/24`,
 * `id:${hex}`) as a rope — a node and its two parts — until something flattens it; a key lives
 * as long as its entry, so the table copies it flat once when it stores it (set, adopt): about
 * 30 bytes less per entry. A lookup's key is not copied (a Buffer and a string per connection
 * for nothing). Keys are ASCII, so latin1 copies them exactly.
 */
function flatKey(key: string): string {
  return Buffer.from(key, 'latin1').toString('latin1');
}

/**
 * Told of what this node's own traffic and operators change in a table (ha.sync replicates it);
 * not of expiry or eviction, which each node does for itself, nor of what a peer sent (`adopt`).
 */
export interface StickObserver {
  set(key: string, member: string): void;
  deleted(key: string): void;
  /** every key (member undefined) or those of one member */
  cleared(member: string | undefined): void;
}

/**
 * Told of every change to a table whoever made it — this thread's traffic, an operator, an ha
 * peer (`adopt`) — but expiry and eviction, which each copy does for itself: with worker threads,
 * the main thread's table is the union and the workers' copies follow it (workers/stick-relay.ts).
 */
export interface StickMirror {
  set(key: string, member: string, expiresIn: number): void;
  deleted(key: string): void;
  /** every key (member undefined) or those of one member */
  cleared(member: string | undefined): void;
}

/**
 * lru-cache's get() makes an options object per call unless given one; it writes `status` into
 * it (undefined, unless a diagnostics channel listens: then get() resets it).
 */
const GET_OPTIONS: LRUCache.GetOptions<string, string, unknown> = {};

export class StickTable {
  readonly maxEntries: number;
  /** the replication link's watcher, when one runs; null: nobody is told */
  observer: StickObserver | null = null;
  /** the worker threads' relay (main thread, workers above 1); null: nobody is told */
  mirror: StickMirror | null = null;
  readonly timeout: number;
  readonly counters: StickCounters = { hits: 0, misses: 0, expirations: 0, evictions: 0 };
  readonly #cache: LRUCache<string, string>;
  /**
   * Keys an operator or a peer deleted and nobody set since, so that a connection that ends
   * does not write its entry back (`restore`), and a peer that did not hear of the deletion does
   * not bring it back in its full resynchronisation (`adopt`). Made on the first deletion; as
   * bounded as the table (max-entries, the oldest forgotten first) and kept for its timeout: an
   * entry deleted longer ago would have expired by now unless its client came back.
   */
  #removed: LRUCache<string, true> | null = null;
  readonly #perf: { now(): number };

  constructor(options: StickTableOptions) {
    if (!(Number.isSafeInteger(options.maxEntries) && options.maxEntries >= 1)) {
      throw new RangeError(`a stick table needs max-entries of 1 or more, got ${options.maxEntries}`);
    }
    if (!(Number.isSafeInteger(options.timeout) && options.timeout >= 1)) {
      throw new RangeError(`a stick table needs a timeout of 1 ms or more, got ${options.timeout}`);
    }
    this.maxEntries = options.maxEntries;
    this.timeout = options.timeout;
    const clock = options.now;
    // lru-cache reads a start time of 0 as "no TTL", so a clock that starts at 0 is shifted.
    this.#perf = clock === undefined ? performance : { now: () => clock() + 1 };
    this.#cache = new LRUCache<string, string>({
      max: options.maxEntries,
      ttl: options.timeout,
      ttlResolution: 0,
      updateAgeOnGet: true,
      perf: this.#perf,
      dispose: this.#onDispose,
    });
  }

  /** Entries held, including expired ones not yet found; `entries()` drops those. */
  get size(): number {
    return this.#cache.size;
  }

  /** The member id `key` sticks to, and its timeout starts again; undefined when none is live. */
  get(key: string): string | undefined {
    const member = this.#cache.get(key, GET_OPTIONS);
    GET_OPTIONS.status = undefined;
    if (member === undefined) this.counters.misses++;
    else this.counters.hits++;
    return member;
  }

  /** Remembers (or refreshes) `key` -> `member`; the least recently used entry makes room. */
  set(key: string, member: string): void {
    this.#store(flatKey(key), member);
  }

  /** set() of a key that needs no flat copy: one the table holds already, or one made flat. */
  #store(key: string, member: string): void {
    this.#cache.set(key, member);
    if (this.#removed !== null) this.#removed.delete(key);
    this.observer?.set(key, member);
    this.mirror?.set(key, member, this.timeout);
  }

  /**
   * A connection of `key` on `member` ended: its entry is refreshed (or written back if it
   * expired while the connection lasted), unless the key moved to another member meanwhile or
   * an operator or a peer deleted it: a deletion is not undone by a connection that was open.
   */
  restore(key: string, member: string): void {
    const held = this.#cache.peek(key);
    // held: the entry keeps the key it was stored with, so this one is not copied
    if (held === member) this.#store(key, member);
    else if (held === undefined && this.#removed?.has(key) !== true) this.set(key, member);
  }

  /**
   * A peer's entry, kept for the time it has left there (at most this table's timeout); the
   * observer is not told, so an entry never travels back to where it came from. `resync`: it
   * comes in the peer's full resynchronisation, which may hold what the peer had before it heard
   * of a deletion here: a key deleted here is then left deleted. False when not taken.
   */
  adopt(key: string, member: string, expiresIn: number, resync = false): boolean {
    const ttl = Math.min(Math.round(expiresIn), this.timeout);
    if (ttl < 1) return false;
    if (this.#removed !== null && this.#removed.has(key)) {
      if (resync) return false;
      this.#removed.delete(key);
    }
    this.#cache.set(flatKey(key), member, { ttl });
    this.mirror?.set(key, member, ttl);
    return true;
  }

  /** The keys deleted here (by an operator or a peer) within the timeout and not set since: a full resynchronisation sends them. */
  removedKeys(): string[] {
    if (this.#removed === null) return [];
    this.#removed.purgeStale();
    return [...this.#removed.keys()];
  }

  /** A peer forgot `key` (or every key, or a member's): forgotten here too, the observer not told. */
  unadopt(key: string): boolean {
    const had = this.#cache.delete(key);
    if (had) {
      this.#remember(key);
      this.mirror?.deleted(key);
    }
    return had;
  }

  /** The entry for `key` without counting a lookup or refreshing it. */
  peek(key: string): StickEntry | undefined {
    const member = this.#cache.peek(key);
    return member === undefined ? undefined : { key, member, expiresIn: this.#cache.getRemainingTTL(key) };
  }

  /** Forgets one key; true when it was there. */
  delete(key: string): boolean {
    const had = this.#cache.delete(key);
    if (!had) return false;
    this.#remember(key);
    this.observer?.deleted(key);
    this.mirror?.deleted(key);
    return true;
  }

  /** Forgets the keys that stick to `member` (or every key); returns how many. */
  clear(member?: string): number {
    this.observer?.cleared(member);
    return this.forget(member);
  }

  /** clear() without telling the observer (a peer's clear). */
  forget(member?: string): number {
    this.mirror?.cleared(member);
    if (member === undefined) {
      const n = this.#cache.size;
      for (const key of this.#cache.keys()) this.#remember(key);
      this.#cache.clear();
      return n;
    }
    const keys: string[] = [];
    for (const [key, id] of this.#cache.entries()) if (id === member) keys.push(key);
    for (const key of keys) {
      this.#cache.delete(key);
      this.#remember(key);
    }
    return keys.length;
  }

  #remember(key: string): void {
    this.#removed ??= new LRUCache<string, true>({ max: this.maxEntries, ttl: this.timeout, ttlResolution: 0, perf: this.#perf });
    this.#removed.set(key, true);
  }

  /**
   * The live entries, most recently used first (at most `limit`). Expired entries are dropped
   * (and counted) on the way, so this walks the whole table: it is for the admin API, not the
   * data path.
   */
  entries(limit = Infinity): StickEntry[] {
    this.#cache.purgeStale();
    const out: StickEntry[] = [];
    for (const [key, member] of this.#cache.entries()) {
      if (out.length >= limit) break;
      out.push({ key, member, expiresIn: this.#cache.getRemainingTTL(key) });
    }
    return out;
  }

  #onDispose = (_member: string, key: string, reason: LRUCache.DisposeReason): void => {
    if (reason === 'expire') this.counters.expirations++;
    else if (reason === 'evict') {
      // The least recently used entry is also the one closest to expiry (every use refreshes
      // both), so it has often expired already: that is an expiration, not a live entry lost.
      // lru-cache calls dispose before it unlinks the entry, so its age can still be read.
      if (this.#cache.getRemainingTTL(key) < 0) this.counters.expirations++;
      else this.counters.evictions++;
    }
  };
}

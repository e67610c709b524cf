// Counts per client address shared by the worker threads (issue 14): max-connections-per-client
// holds for the process, whichever worker the kernel gives a client's connection to. A fixed-size
// open-addressing hash table (linear probing) in a SharedArrayBuffer, keyed by the address as 16
// bytes (IPv4 as ::ffff:a.b.c.d, so both spellings of a dual-stack client are one key). Each slot
// holds the key, the total and each thread's own share of it (a column per worker): the main thread
// gives back a dead worker's share from its column (reclaim). A short spin lock guards every change
// (a probe and an update take well under a microsecond); a worker that finds it held for longer
// (its holder descheduled) naps 20 µs; the main thread, which must not block, only spins. A key whose total drops to 0 leaves at once, by backward-shift deletion:
// no tombstones, so the table holds only the addresses with connections open.
// When more than 3/4 of the slots are in use a new address is not counted (admitted: it fails
// open, counted in `uncounted`): a crowded table would make every probe long, and the table is
// sized at twice the connections the process may hold, so this takes a bug or a budget raised later.
// Kept general (a count under a cap per key) for the rate limits that will want the same table.

import { home, lockWords, readKey, removeSlot } from './shared-keys.ts';

/** acquire(): a place was taken (release it once) */
export const COUNTED = 1;
/** acquire(): the address is at its cap */
export const FULL = 0;
/** acquire(): not counted (the table is crowded, or the text is no address): let in, release nothing */
export const UNCOUNTED = 2;

/** header words: the lock (0 free, else its holder's id), entries, uncounted acquires, the nap word */
const LOCK = 0;
const USED = 1;
const UNCOUNTED_AT = 2;
/** always 0: a worker waiting for a descheduled holder sleeps on it (nobody wakes it) */
const NAP = 3;
const HEADER = 4;
/** slot words: 4 key words, the total, then one share per column */
const TOTAL = 4;
const SHARES = 5;

/** The lock holder id of the main thread (workers hold it as their column + 1). */
const MAIN = 0x7fff_ffff;

export const MIN_SLOTS = 1024;
export const MAX_SLOTS = 1 << 17;

/** The slots for `clients` addresses at once: a power of two at least twice that, within bounds. */
export function slotsFor(clients: number): number {
  let slots = MIN_SLOTS;
  while (slots < MAX_SLOTS && slots < 2 * clients) slots *= 2;
  return slots;
}

/** A new table's buffer: `slots` (a power of two) for `columns` threads. */
export function clientTableBuffer(slots: number, columns: number): SharedArrayBuffer {
  if (!Number.isInteger(slots) || slots < 2 || (slots & (slots - 1)) !== 0) throw new RangeError(`client table: slots must be a power of two, got ${slots}`);
  if (!Number.isInteger(columns) || columns < 1 || columns > 1024) throw new RangeError(`client table: columns must be 1..1024, got ${columns}`);
  const buffer = new SharedArrayBuffer((HEADER + slots * (SHARES + columns) + 2) * 4);
  // the shape, after the slots: every thread reads it from the buffer
  const words = new Int32Array(buffer);
  words[words.length - 2] = slots;
  words[words.length - 1] = columns;
  return buffer;
}

/** the key of the address being handled: one per thread, filled by keyOf() */
const keyBytes = new Uint8Array(16);
const key = new Int32Array(keyBytes.buffer);

/** The address into `key`; false when it is none. */
function keyOf(address: string): boolean {
  return readKey(address, keyBytes);
}

/** One thread's view of a table: `column` is its worker index (the main thread reclaims only). */
export class SharedClientTable {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  readonly columns: number;
  readonly #words: Int32Array;
  readonly #mask: number;
  readonly #stride: number;
  readonly #column: number;
  readonly #owner: number;
  /** new keys are not counted from this many entries on */
  readonly #crowded: number;

  constructor(buffer: SharedArrayBuffer, column = -1) {
    const words = new Int32Array(buffer);
    this.buffer = buffer;
    this.#words = words;
    this.slots = words[words.length - 2];
    this.columns = words[words.length - 1];
    if (column >= this.columns) throw new RangeError(`client table: column ${column} of ${this.columns}`);
    this.#mask = this.slots - 1;
    this.#stride = SHARES + this.columns;
    this.#column = column;
    this.#owner = column < 0 ? MAIN : column + 1;
    this.#crowded = (this.slots >>> 2) * 3;
  }

  /** Addresses with a count. */
  get size(): number {
    return Atomics.load(this.#words, USED);
  }

  /** Acquires not counted: the table was crowded, or the text was no address. */
  get uncounted(): number {
    return Atomics.load(this.#words, UNCOUNTED_AT);
  }

  /** One more for `address` if that keeps it at most `cap`: COUNTED, FULL or UNCOUNTED. */
  acquire(address: string, cap: number): number {
    const words = this.#words;
    if (!keyOf(address)) {
      Atomics.add(words, UNCOUNTED_AT, 1);
      return UNCOUNTED;
    }
    this.#lock();
    let at = this.#find();
    if (at < 0) {
      if (words[USED] >= this.#crowded || cap < 1) {
        this.#unlock();
        if (cap < 1) return FULL;
        Atomics.add(words, UNCOUNTED_AT, 1);
        return UNCOUNTED;
      }
      at = ~at;
      words[at] = key[0];
      words[at + 1] = key[1];
      words[at + 2] = key[2];
      words[at + 3] = key[3];
      words[USED]++;
    } else if (words[at + TOTAL] >= cap) {
      this.#unlock();
      return FULL;
    }
    words[at + TOTAL]++;
    words[at + SHARES + this.#column]++;
    this.#unlock();
    return COUNTED;
  }

  /** One less for `address`: once per COUNTED acquire by this thread. */
  release(address: string): void {
    if (!keyOf(address)) return;
    const words = this.#words;
    this.#lock();
    const at = this.#find();
    if (at >= 0) {
      words[at + SHARES + this.#column]--;
      if (--words[at + TOTAL] <= 0) this.#remove(at);
    }
    this.#unlock();
  }

  /** The count of `address` now. */
  count(address: string): number {
    if (!keyOf(address)) return 0;
    this.#lock();
    const at = this.#find();
    const n = at < 0 ? 0 : this.#words[at + TOTAL];
    this.#unlock();
    return n;
  }

  /**
   * Gives back what the thread of `column` held (it exited: its connections are gone), and clears
   * its column for the thread that replaces it. Main thread only, once the thread has exited.
   * The table is rebuilt from the shares of the others: were it killed in the middle of a change,
   * holding the lock, the totals come out right all the same. Returns the places given back.
   */
  reclaim(column: number): number {
    const words = this.#words;
    const stride = this.#stride;
    const dead = column + 1;
    // a thread that exited holding the lock will never free it: it is taken over
    for (;;) {
      const was = Atomics.compareExchange(words, LOCK, 0, MAIN);
      if (was === 0) break;
      if (was === dead && Atomics.compareExchange(words, LOCK, dead, MAIN) === dead) break;
    }
    const kept: Int32Array[] = [];
    let returned = 0;
    for (let s = 0; s < this.slots; s++) {
      const at = HEADER + s * stride;
      if (words[at + TOTAL] === 0) continue;
      returned += words[at + SHARES + column];
      words[at + SHARES + column] = 0;
      const entry = words.slice(at, at + stride);
      let total = 0;
      for (let c = 0; c < this.columns; c++) total += entry[SHARES + c];
      entry[TOTAL] = total;
      if (total > 0) kept.push(entry);
    }
    words.fill(0, HEADER, HEADER + this.slots * stride);
    let used = 0;
    for (const entry of kept) {
      key[0] = entry[0];
      key[1] = entry[1];
      key[2] = entry[2];
      key[3] = entry[3];
      const at = this.#find();
      // (a key twice: a copy left by a thread killed while it moved an entry)
      if (at >= 0) continue;
      words.set(entry, ~at);
      used++;
    }
    words[USED] = used;
    Atomics.store(words, LOCK, 0);
    return returned;
  }

  #lock(): void {
    lockWords(this.#words, LOCK, NAP, this.#owner, this.#column >= 0);
  }

  #unlock(): void {
    Atomics.store(this.#words, LOCK, 0);
  }

  /** Where `key` is (its first word), or ~where it would go: the first empty slot of its run. */
  #find(): number {
    const words = this.#words;
    const stride = this.#stride;
    let s = home(key[0], key[1], key[2], key[3]) & this.#mask;
    for (;;) {
      const at = HEADER + s * stride;
      if (words[at + TOTAL] === 0) return ~at;
      if (words[at] === key[0] && words[at + 1] === key[1] && words[at + 2] === key[2] && words[at + 3] === key[3]) return at;
      s = (s + 1) & this.#mask;
    }
  }

  /** Empties the slot at `at` (backward-shift deletion). */
  #remove(at: number): void {
    removeSlot(this.#words, at, HEADER, this.#stride, this.#mask, USED);
  }
}

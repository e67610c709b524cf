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

import { readAddress } from '../ip-text.ts';

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
/** reads of a held lock before a worker naps, about a microsecond; and the nap, in ms */
const SPINS = 500;
const NAP_MS = 0.02;
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
    const words = this.#words;
    let spins = 0;
    while (Atomics.compareExchange(words, LOCK, 0, this.#owner) !== 0) {
      // (while another holds it, only read: a failed compare-and-swap takes the line from the holder too)
      while (Atomics.load(words, LOCK) !== 0) {
        // a holder this long was descheduled (more threads than cores): a worker sleeps a moment to
        // let it run rather than spin out its time slice; the main thread never waits
        if (++spins > SPINS && this.#column >= 0) {
          Atomics.wait(words, NAP, 0, NAP_MS);
          spins = 0;
        }
      }
    }
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

  /**
   * Empties the slot at `at` and moves back the entries after it in its run that may live there
   * (their home is not between the hole and them), so every key stays reachable from its home.
   */
  #remove(at: number): void {
    const words = this.#words;
    const stride = this.#stride;
    const mask = this.#mask;
    let hole = (at - HEADER) / stride;
    let s = hole;
    for (;;) {
      s = (s + 1) & mask;
      const from = HEADER + s * stride;
      if (words[from + TOTAL] === 0) break;
      const h = home(words[from], words[from + 1], words[from + 2], words[from + 3]) & mask;
      // the entry stays when its home lies cyclically in (hole, s]
      if (((s - h) & mask) < ((s - hole) & mask)) continue;
      words.copyWithin(HEADER + hole * stride, from, from + stride);
      hole = s;
    }
    words.fill(0, HEADER + hole * stride, HEADER + (hole + 1) * stride);
    words[USED]--;
  }
}

/** The address into `key`; false when it is none. */
function keyOf(address: string): boolean {
  // IPv4, as most clients are, bare or as a dual-stack socket spells it, read straight (the
  // general reader takes about twice as long); anything else by the general reader
  const at = address.length > 7 && address.charCodeAt(0) === COLON && address.startsWith('::ffff:') ? 7 : 0;
  const v4 = dottedQuad(address, at);
  if (v4 < 0) return readAddress(address, keyBytes, 0);
  key[0] = 0;
  key[1] = 0;
  keyBytes[8] = 0;
  keyBytes[9] = 0;
  keyBytes[10] = 0xff;
  keyBytes[11] = 0xff;
  keyBytes[12] = v4 >>> 24;
  keyBytes[13] = (v4 >>> 16) & 0xff;
  keyBytes[14] = (v4 >>> 8) & 0xff;
  keyBytes[15] = v4 & 0xff;
  return true;
}

const COLON = 0x3a;
const DOT = 0x2e;

/** s[from..] as a dotted quad (four numbers 0-255, no leading zeros: ip-text.ts's grammar), or -1. */
function dottedQuad(s: string, from: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + (c - 0x30);
      if (++digits > 3 || octet > 255) return -1;
    } else if (c === DOT && digits > 0 && dots < 3) {
      value = value * 256 + octet;
      dots++;
      octet = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  return digits === 0 || dots !== 3 ? -1 : value * 256 + octet;
}

/** A key's home slot, before the mask: the words mixed so IPv4 keys (three fixed words) spread. */
function home(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(d ^ 0x5bd1e995, 0x9e3779b1);
  h = Math.imul(h ^ c ^ (h >>> 15), 0x85ebca77);
  h = Math.imul(h ^ b ^ (h >>> 13), 0xc2b2ae3d);
  h = Math.imul(h ^ a ^ (h >>> 16), 0x27d4eb2f);
  return h ^ (h >>> 15);
}

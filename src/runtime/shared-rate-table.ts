// The token buckets of one rate limit (proxy/rate-limits.ts), one per key: a client address
// (masked) or a request header's value. A fixed-size open-addressing table (linear probing) in a
// SharedArrayBuffer, so that with worker threads the limit holds for the process whichever worker
// the kernel gives a client's connection to; one loop uses the same table on its own (one kind of
// table, the same bounds and expiry everywhere). A short spin lock guards every change
// (shared-keys.ts), as in the table of client counts.
//
// A bucket holds `burst` tokens and gains `rate` per ms; a request (or connection) takes one, and
// one that finds less than a whole token is refused and told how long until there is one. A bucket
// that has refilled to the brim is as good as none: it is removed when a probe meets it or a sweep
// finds it (no timers, no tombstones: backward-shift deletion). The table holds at most `size`
// keys (its slots are twice that, so probes stay short); a new key that finds it full, even after a
// sweep of the refilled ones, is refused (counted in `full`): a flood of new addresses cannot
// switch the limit off for itself by filling the table.
//
// A header value is kept as a 128-bit hash, keyed with a seed drawn when the table is made (no one
// outside can make two values share a bucket), and its first 32 bytes for people to read.

import { formatIPv4, formatIPv6 } from '../ip-text.ts';
import { home, lockWords, readKey, removeSlot } from './shared-keys.ts';

/** kinds of key (0 marks an empty slot) */
const ADDRESS = 1;
const HEADER_VALUE = 2;

/** header words (the slot code of shared-keys.ts reads a slot's word 4, the kind, as in use): the lock, entries, the nap word, the hash seed, the slots, the bound, refusals for want of room */
const LOCK = 0;
const USED = 1;
const NAP = 2;
const SEED = 3;
const SLOTS = 4;
const SIZE = 5;
const FULL = 6;
/** header float64s (index in the Float64Array): rate per ms, burst, last sweep (ms), passed, refused */
const RATE = 4;
const BURST = 5;
const SWEPT = 6;
const PASSED = 7;
const REFUSED = 8;
const HEADER = 20;
/** slot words: 4 key words, the kind, the length of the text; then float64s: tokens, last, passed, refused; then the text */
const KIND = 4;
const TEXT_LENGTH = 5;
const TOKENS = 6;
const LAST = 8;
const HITS = 10;
const REFUSALS = 12;
const TEXT = 14;
const TEXT_BYTES = 32;
const STRIDE = TEXT + TEXT_BYTES / 4;

/** A full table is swept for refilled buckets at most this often (ms): a sweep reads every slot. */
const SWEEP_GAP = 100;
/** What a key refused for want of room is told to wait (ms). */
const FULL_WAIT = 1_000;
/** The lock holder id of the main thread (workers hold it as their index + 1). */
const MAIN = 0x7fff_ffff;

/** A new table's buffer: at most `size` keys, buckets of `burst` tokens refilled at `rate` per ms. */
export function rateTableBuffer(size: number, rate: number, burst: number): SharedArrayBuffer {
  if (!Number.isInteger(size) || size < 1 || size > 1 << 24) throw new RangeError(`rate table: size must be 1..2^24, got ${size}`);
  if (!(rate > 0) || !(burst >= 1)) throw new RangeError(`rate table: rate must be more than 0 and burst at least 1, got ${rate} and ${burst}`);
  let slots = 16;
  while (slots < 2 * size) slots *= 2;
  const buffer = new SharedArrayBuffer((HEADER + slots * STRIDE) * 4);
  const words = new Int32Array(buffer);
  const floats = new Float64Array(buffer);
  words[SLOTS] = slots;
  words[SIZE] = size;
  words[SEED] = (Math.random() * 0x1_0000_0000) | 0;
  floats[RATE] = rate;
  floats[BURST] = burst;
  return buffer;
}

/** A bucket as the API shows it. */
export interface RateEntry {
  /** the address (with its mask when not the whole address) or the header value (its first 32 bytes) */
  key: string;
  /** tokens now */
  tokens: number;
  /** requests (or connections) it let through, and refused, since the key came */
  passed: number;
  refused: number;
}

/** the key being handled: one per thread */
const keyBytes = new Uint8Array(16);
const key = new Int32Array(keyBytes.buffer);

/** One thread's view of a table; `index`: the worker's (-1: the main thread, or one loop). */
export class SharedRateTable {
  readonly buffer: SharedArrayBuffer;
  /** tokens per ms, and the bucket's size */
  readonly rate: number;
  readonly burst: number;
  /** the most keys it holds */
  readonly size: number;
  readonly #words: Int32Array;
  readonly #floats: Float64Array;
  readonly #bytes: Uint8Array;
  readonly #mask: number;
  readonly #owner: number;
  readonly #worker: boolean;
  /** ms for an empty bucket to fill */
  readonly #refill: number;

  constructor(buffer: SharedArrayBuffer, index = -1) {
    this.buffer = buffer;
    this.#words = new Int32Array(buffer);
    this.#floats = new Float64Array(buffer);
    this.#bytes = new Uint8Array(buffer);
    this.#mask = this.#words[SLOTS] - 1;
    this.size = this.#words[SIZE];
    this.rate = this.#floats[RATE];
    this.burst = this.#floats[BURST];
    this.#refill = this.burst / this.rate;
    this.#owner = index < 0 ? MAIN : index + 1;
    this.#worker = index >= 0;
  }

  /** Keys held now (refilled ones among them until a probe or sweep meets them). */
  get used(): number {
    return Atomics.load(this.#words, USED);
  }

  /** Requests (or connections) let through, refused, and refused because the table was full. */
  get counters(): { passed: number; refused: number; full: number } {
    this.#lock();
    const out = { passed: this.#floats[PASSED], refused: this.#floats[REFUSED], full: this.#words[FULL] };
    this.#unlock();
    return out;
  }

  /**
   * Takes a token for the client `address` masked to `v4`/`v6` bits at `now` (ms): 0 when it
   * had one, else the ms until it will. An address that does not read is let through (-1).
   */
  takeAddress(address: string, v4: number, v6: number, now: number): number {
    if (!readKey(address, keyBytes)) return -1;
    maskKey(v4, v6);
    return this.#take(ADDRESS, now, null);
  }

  /**
   * Takes a token for the header value `text[start..end)` (all of it by default) at `now` (ms): 0, or the ms until
   * there is one. (The value is read where it lies: nothing is copied unless the key is new.)
   */
  takeHeader(text: string, now: number, start = 0, end = text.length): number {
    hashKey(text, start, end, this.#words[SEED]);
    textStart = start;
    textEnd = end;
    return this.#take(HEADER_VALUE, now, text);
  }

  #take(kind: number, now: number, text: string | null): number {
    const words = this.#words;
    const floats = this.#floats;
    this.#lock();
    let at = this.#find(kind, now);
    let f: number;
    if (at < 0) {
      if (words[USED] >= this.size && now - floats[SWEPT] >= SWEEP_GAP) {
        floats[SWEPT] = now;
        this.#sweep(now);
        at = this.#find(kind, now);
      }
      if (words[USED] >= this.size) {
        words[FULL]++;
        floats[REFUSED]++;
        this.#unlock();
        return FULL_WAIT;
      }
      at = ~at;
      words.set(key, at);
      words[at + KIND] = kind;
      f = (at + TOKENS) >>> 1;
      floats[f] = this.burst;
      floats[f + 2] = 0;
      floats[f + 3] = 0;
      words[at + TEXT_LENGTH] = text === null ? 0 : this.#keepText(at, text, textStart, textEnd);
      words[USED]++;
    } else {
      f = (at + TOKENS) >>> 1;
      const elapsed = now - floats[f + 1];
      if (elapsed > 0) floats[f] = Math.min(this.burst, floats[f] + elapsed * this.rate);
    }
    floats[f + 1] = now;
    const tokens = floats[f];
    let wait = 0;
    if (tokens >= 1) {
      floats[f] = tokens - 1;
      floats[f + 2]++;
      floats[PASSED]++;
    } else {
      floats[f + 3]++;
      floats[REFUSED]++;
      wait = Math.max(1, Math.ceil((1 - tokens) / this.rate));
    }
    this.#unlock();
    return wait;
  }

  /** The buckets held, up to `limit`, as they are at `now`; refilled ones are left out. */
  entries(now: number, v4: number, v6: number, limit = Infinity): RateEntry[] {
    const words = this.#words;
    const floats = this.#floats;
    const out: RateEntry[] = [];
    this.#lock();
    for (let s = 0; s <= this.#mask && out.length < limit; s++) {
      const at = HEADER + s * STRIDE;
      if (words[at + KIND] === 0 || this.#expired(at, now)) continue;
      const f = (at + TOKENS) >>> 1;
      const tokens = Math.min(this.burst, floats[f] + Math.max(0, now - floats[f + 1]) * this.rate);
      out.push({ key: this.#keyText(at, v4, v6), tokens: Math.floor(tokens * 1000) / 1000, passed: floats[f + 2], refused: floats[f + 3] });
    }
    this.#unlock();
    return out;
  }

  /** Removes every refilled bucket; returns how many are left (tests, the API). */
  sweep(now: number): number {
    this.#lock();
    this.#sweep(now);
    const left = this.#words[USED];
    this.#unlock();
    return left;
  }

  #sweep(now: number): void {
    const words = this.#words;
    // backward-shift deletion may move a later entry into the slot just emptied: look at it again
    for (let s = 0; s <= this.#mask; ) {
      const at = HEADER + s * STRIDE;
      if (words[at + KIND] !== 0 && this.#expired(at, now)) this.#remove(at);
      else s++;
    }
  }

  #lock(): void {
    lockWords(this.#words, LOCK, NAP, this.#owner, this.#worker);
  }

  #unlock(): void {
    Atomics.store(this.#words, LOCK, 0);
  }

  /** Whether the bucket at `at` has refilled to the brim by `now`: it is as good as none. */
  #expired(at: number, now: number): boolean {
    const f = (at + TOKENS) >>> 1;
    return now - this.#floats[f + 1] >= this.#refill - this.#floats[f] / this.rate;
  }

  /**
   * Where `key` of `kind` is (its first word), or ~where it would go; refilled buckets met on
   * the way are removed (the one found is not: its counts are kept while it is used).
   */
  #find(kind: number, now: number): number {
    const words = this.#words;
    const mask = this.#mask;
    let s = home(key[0], key[1], key[2], key[3]) & mask;
    for (;;) {
      const at = HEADER + s * STRIDE;
      if (words[at + KIND] === 0) return ~at;
      if (words[at] === key[0] && words[at + 1] === key[1] && words[at + 2] === key[2] && words[at + 3] === key[3] && words[at + KIND] === kind) return at;
      // (a removal moves a later entry of the run here: look at this slot again)
      if (this.#expired(at, now)) this.#remove(at);
      else s = (s + 1) & mask;
    }
  }

  /** Empties the slot at `at` (backward-shift deletion). */
  #remove(at: number): void {
    removeSlot(this.#words, at, HEADER, STRIDE, this.#mask, USED);
  }

  /** Keeps the first 32 bytes of `text[from..to)` (latin1) in the slot; returns its whole length. */
  #keepText(at: number, text: string, from: number, to: number): number {
    const bytes = this.#bytes;
    const start = (at + TEXT) * 4;
    const n = Math.min(TEXT_BYTES, to - from);
    for (let i = 0; i < n; i++) bytes[start + i] = text.charCodeAt(from + i) & 0xff;
    return to - from;
  }

  #keyText(at: number, v4: number, v6: number): string {
    const words = this.#words;
    if (words[at + KIND] === HEADER_VALUE) {
      const length = words[at + TEXT_LENGTH];
      const start = (at + TEXT) * 4;
      const text = Buffer.from(this.#bytes.subarray(start, start + Math.min(TEXT_BYTES, length))).toString('latin1');
      return length > TEXT_BYTES ? `${text}…` : text;
    }
    const b = new Uint8Array(16);
    new Int32Array(b.buffer).set(words.subarray(at, at + 4));
    if (isV4(b)) return v4 === 32 ? formatIPv4(b, 12) : `${formatIPv4(b, 12)}/${v4}`;
    return v6 === 128 ? formatIPv6(b, 0) : `${formatIPv6(b, 0)}/${v6}`;
  }
}

/** An IPv4 address as a key spells it (::ffff:a.b.c.d). */
function isV4(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Keeps the leading `v4` bits of an IPv4 key, `v6` of an IPv6 key. */
function maskKey(v4: number, v6: number): void {
  const bits = isV4(keyBytes) ? 96 + v4 : v6;
  if (bits >= 128) return;
  const whole = bits >>> 3;
  keyBytes[whole] &= (0xff00 >>> (bits & 7)) & 0xff;
  keyBytes.fill(0, whole + 1);
}

/** the header value being handled: text[textStart..textEnd) of takeHeader's text */
let textStart = 0;
let textEnd = 0;

/** A header value (`value[from..to)`) as a 128-bit key: four 32-bit hashes of its UTF-16 code units, seeded apart. */
function hashKey(value: string, from: number, to: number, seed: number): void {
  let a = seed ^ 0x811c9dc5;
  let b = Math.imul(seed, 0x9e3779b1) ^ 0x27d4eb2f;
  let c = seed ^ 0x165667b1;
  let d = Math.imul(seed ^ 0x5bd1e995, 0x85ebca77);
  for (let i = from; i < to; i++) {
    const ch = value.charCodeAt(i);
    a = Math.imul(a ^ ch, 0x01000193);
    b = Math.imul(b ^ ch, 0xcc9e2d51);
    b = (b << 15) | (b >>> 17);
    c = Math.imul(c + ch, 0x1b873593) ^ (c >>> 13);
    d = Math.imul(d ^ (ch + i - from), 0xc2b2ae35);
    d ^= d >>> 16;
  }
  key[0] = a ^ (b >>> 7);
  key[1] = b ^ (c >>> 11);
  key[2] = c ^ (d >>> 5);
  key[3] = d ^ (a >>> 13) ^ (to - from);
}

// What the tables shared by worker threads have in common (shared-client-table.ts,
// shared-rate-table.ts): a client address read as a 16-byte key (IPv4 as ::ffff:a.b.c.d, so both
// spellings of a dual-stack client are one key), the hash that spreads keys over the slots, and the
// short spin lock that guards every change.

import { readAddress } from '../ip-text.ts';

/** reads of a held lock before a worker naps, about a microsecond; and the nap, in ms */
const SPINS = 500;
const NAP_MS = 0.02;

/**
 * Takes the lock word `lock` of `words` for `owner` (non-zero). A worker that finds it held for
 * long (its holder descheduled: more threads than cores) sleeps 20 µs on the word `nap` (always 0,
 * nobody wakes it) rather than spin out its time slice; the main thread (`mayNap` false) never waits.
 */
export function lockWords(words: Int32Array, lock: number, nap: number, owner: number, mayNap: boolean): void {
  let spins = 0;
  while (Atomics.compareExchange(words, lock, 0, owner) !== 0) {
    // (while another holds it, only read: a failed compare-and-swap takes the line from the holder too)
    while (Atomics.load(words, lock) !== 0) {
      if (++spins > SPINS && mayNap) {
        Atomics.wait(words, nap, 0, NAP_MS);
        spins = 0;
      }
    }
  }
}

/** The address into `keyBytes` (16 bytes, IPv4 as ::ffff:a.b.c.d); false when it is none. */
export function readKey(address: string, keyBytes: Uint8Array): boolean {
  // IPv4, as most clients are, bare or as a dual-stack socket spells it, read straight (the
  // general reader takes about twice as long); anything else by the general reader
  const at = address.length > 7 && address.charCodeAt(0) === COLON && address.startsWith('::ffff:') ? 7 : 0;
  const v4 = dottedQuad(address, at);
  if (v4 < 0) return readAddress(address, keyBytes, 0);
  keyBytes.fill(0, 0, 8);
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
export function dottedQuad(s: string, from: number): number {
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
export function home(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(d ^ 0x5bd1e995, 0x9e3779b1);
  h = Math.imul(h ^ c ^ (h >>> 15), 0x85ebca77);
  h = Math.imul(h ^ b ^ (h >>> 13), 0xc2b2ae3d);
  h = Math.imul(h ^ a ^ (h >>> 16), 0x27d4eb2f);
  return h ^ (h >>> 15);
}

/**
 * Empties the slot at word `at` of an open-addressing table (slots of `stride` words from
 * `header`, `mask` = slots - 1, a slot's first 4 words its key, word 4 non-zero while it is in
 * use, `used` the header word counting entries) and moves back the entries after it in its run that
 * may live there (their home is not between the hole and them), so every key stays reachable
 * from its home: no tombstones.
 */
export function removeSlot(words: Int32Array, at: number, header: number, stride: number, mask: number, used: number): void {
  let hole = (at - header) / stride;
  let s = hole;
  for (;;) {
    s = (s + 1) & mask;
    const from = header + s * stride;
    if (words[from + 4] === 0) break;
    const h = home(words[from], words[from + 1], words[from + 2], words[from + 3]) & mask;
    // the entry stays when its home lies cyclically in (hole, s]
    if (((s - h) & mask) < ((s - hole) & mask)) continue;
    words.copyWithin(header + hole * stride, from, from + stride);
    hole = s;
  }
  words.fill(0, header + hole * stride, header + (hole + 1) * stride);
  words[used]--;
}

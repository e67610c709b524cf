// The client's bytes not yet consumed: a request head still arriving, or the next request of a
// client that pipelines. A head that comes in one piece is read straight from its chunk; one
// that arrives in many pieces is gathered into one growing buffer (copied once, never joined
// again per piece, so a head sent one byte at a time costs no more than one sent at once).

import { latin1 } from './latin1.ts';

const CRLFCRLF = Buffer.from('\r\n\r\n');
const FIRST_SIZE = 4096;

export class ClientBytes {
  /** the bytes, from 0 to `length` */
  #buf: Buffer | null = null;
  /** true when #buf is our own storage (with room after `length`), false when it is a chunk */
  #owned = false;
  /** #buf is (a view of) a chunk lent by its stream for the current read only (see own()) */
  #lent = false;
  #length = 0;
  /** the head's end is not before this index (already searched) */
  #scanned = 0;
  /** no bare CR or LF before this index (see bareLineEnd) */
  #checked = 0;

  get length(): number {
    return this.#length;
  }

  /** `lent`: the chunk is valid only until the read that brought it is over (Stream.lent) */
  push(chunk: Buffer, lent = false): void {
    if (this.#length === 0) {
      this.#buf = chunk;
      this.#owned = false;
      this.#lent = lent;
      this.#length = chunk.length;
      return;
    }
    const need = this.#length + chunk.length;
    if (!this.#owned || this.#buf!.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(FIRST_SIZE, need, this.#owned ? this.#buf!.length * 2 : 0));
      this.#buf!.copy(grown, 0, 0, this.#length);
      this.#buf = grown;
      this.#owned = true;
    }
    chunk.copy(this.#buf!, this.#length);
    this.#length = need;
    this.#lent = false;
  }

  /** What is kept is copied out of a lent chunk: called before the read that lent it is over. */
  own(): void {
    if (!this.#lent) return;
    this.#buf = copyOf(this.#buf!.subarray(0, this.#length));
    this.#owned = false;
    this.#lent = false;
  }

  /** The byte at `i`. */
  at(i: number): number {
    return this.#buf![i];
  }

  /** The index just past the blank line that ends a head starting at `from`, or -1. */
  headEnd(from: number): number {
    if (this.#length === 0) return -1;
    const buf = this.#buf!;
    // (a chunk read whole is searched as it is: no view made per head)
    const at = (buf.length === this.#length ? buf : buf.subarray(0, this.#length)).indexOf(CRLFCRLF, Math.max(from, this.#scanned));
    if (at === -1) {
      this.#scanned = Math.max(from, this.#length - 3);
      return -1;
    }
    return at + 4;
  }

  /**
   * Whether a LF without its CR, or a CR followed by something else than LF, occurs in a head
   * still arriving. Each byte is looked at once, however the head trickles in; a CR at the very
   * end waits for the next byte.
   */
  bareLineEnd(): boolean {
    const buf = this.#buf!;
    const length = this.#length;
    let i = this.#checked;
    for (; i < length; i++) {
      const c = buf[i];
      if (c === 0x0a) {
        if (i === 0 || buf[i - 1] !== 0x0d) return true;
      } else if (c === 0x0d) {
        if (i + 1 === length) break;
        if (buf[i + 1] !== 0x0a) return true;
      }
    }
    this.#checked = i;
    return false;
  }

  /** Whether a CRLF occurs in the first `n` bytes from `from`. */
  hasLineEnd(from: number, n: number): boolean {
    const end = Math.min(this.#length, from + n + 2);
    return this.#buf!.subarray(from, end).indexOf('\r\n') !== -1;
  }

  /** The storage, the bytes from index 0 (it may hold more after `length`), for reading in place before the next change. */
  get raw(): Buffer {
    return this.#buf!;
  }

  latin1(start: number, end: number): string {
    return latin1(this.#buf!, start, end);
  }

  /** The bytes are (a view of) a chunk lent for the current read only. */
  get lent(): boolean {
    return this.#lent;
  }

  /** As takeFrom, but a lent chunk is not copied: the caller copies what it keeps of the view (see `lent`). */
  viewFrom(start: number): Buffer {
    const out = this.#buf!.subarray(start, this.#length);
    this.#clear();
    return out;
  }

  /** Removes and returns every byte (as a view: the caller uses it before the next push). */
  takeAll(): Buffer {
    return this.takeFrom(0);
  }

  /** Removes every byte and returns those from `start` on (as a view, as takeAll's). */
  takeFrom(start: number): Buffer {
    // (what is taken goes on to a body or a tunnel, where a write may keep it: never lent)
    const lent = this.#lent;
    const out = this.viewFrom(start);
    return lent ? copyOf(out) : out;
  }

  /** Drops the first `n` bytes. */
  drop(n: number): void {
    if (n >= this.#length) return this.#clear();
    // What remains is kept as a view; the next push copies it into fresh storage.
    this.#buf = this.#buf!.subarray(n, this.#length);
    this.#owned = false;
    this.#length -= n;
    this.#scanned = 0;
    this.#checked = 0;
  }

  #clear(): void {
    this.#buf = null;
    this.#owned = false;
    this.#lent = false;
    this.#length = 0;
    this.#scanned = 0;
    this.#checked = 0;
  }
}

/** A copy of `bytes` in memory of its own. */
export function copyOf(bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(bytes.length);
  bytes.copy(out);
  return out;
}

// Where a message body ends, found as its bytes stream past: a Content-Length counted down, or
// a chunked body walked chunk by chunk (size line, data, CRLF, ..., last chunk, trailers). The
// bytes themselves are forwarded as they are; the framer only says how many belong to the body,
// and, for a client that cannot read chunked (HTTP/1.0), which of them are payload.
// Chunk sizes, extensions and trailers are read strictly and bounded: a malformed one throws.

import { HttpError } from './responses.ts';

const State = {
  SIZE: 0, // hex digits of a chunk size
  EXT: 1, // a chunk extension, up to CR
  SIZE_LF: 2, // LF after the size line
  DATA: 3,
  DATA_CR: 4, // CR after chunk data
  DATA_LF: 5,
  TRAILER_START: 6, // a trailer field, or the final CRLF
  TRAILER: 7,
  TRAILER_LF: 8,
  FINAL_LF: 9,
} as const;

/** A chunk size line (size and extensions) or one trailer field may not be longer than this. */
const MAX_LINE = 4096;
/** All trailer fields together. */
const MAX_TRAILERS = 16 * 1024;
/** 15 hex digits: a size that still fits a JS number exactly. */
const MAX_SIZE_DIGITS = 15;

export type PayloadSink = (buf: Buffer, start: number, end: number) => void;

export class BodyFramer {
  /** the body is complete */
  done = false;
  /** body bytes seen so far (framing included) */
  seen = 0;
  #chunked = false;
  #untilClose = false;
  /** length mode: bytes to go; chunked: bytes to go in the current chunk */
  #remaining = 0;
  #state: number = State.SIZE;
  #digits = 0;
  #line = 0;
  #trailers = 0;
  /** 400 for a request body, 502 for a response body */
  #status = 400;

  /** No body at all. */
  none(): this {
    this.done = true;
    return this;
  }

  length(n: number): this {
    this.#remaining = n;
    this.done = n === 0;
    return this;
  }

  chunked(status: number): this {
    this.#chunked = true;
    this.#status = status;
    return this;
  }

  /** The body runs until the sender closes the connection. */
  untilClose(): this {
    this.#untilClose = true;
    return this;
  }

  get untilCloseMode(): boolean {
    return this.#untilClose;
  }

  /**
   * Takes `buf[start..end)`; returns the index just past the body's last byte (end when the
   * body goes on). `sink`, when given, receives the payload without chunk framing.
   */
  feed(buf: Buffer, start: number, end: number, sink?: PayloadSink): number {
    if (this.done) return start;
    let stop: number;
    if (this.#untilClose) {
      stop = end;
      if (sink !== undefined && end > start) sink(buf, start, end);
    } else if (!this.#chunked) {
      stop = Math.min(end, start + this.#remaining);
      this.#remaining -= stop - start;
      if (this.#remaining === 0) this.done = true;
      if (sink !== undefined && stop > start) sink(buf, start, stop);
    } else {
      stop = this.#walk(buf, start, end, sink);
    }
    this.seen += stop - start;
    return stop;
  }

  #walk(buf: Buffer, start: number, end: number, sink: PayloadSink | undefined): number {
    let i = start;
    while (i < end) {
      const state = this.#state;
      if (state === State.DATA) {
        const n = Math.min(this.#remaining, end - i);
        if (sink !== undefined) sink(buf, i, i + n);
        i += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = State.DATA_CR;
        continue;
      }
      const c = buf[i++];
      switch (state) {
        case State.SIZE: {
          const v = hexValue(c);
          if (v !== -1) {
            if (++this.#digits > MAX_SIZE_DIGITS) this.#fail('chunk size too large');
            this.#remaining = this.#remaining * 16 + v;
          } else if (this.#digits === 0) {
            this.#fail('invalid chunk size');
          } else if (c === 0x3b /* ; */) {
            this.#state = State.EXT;
          } else if (c === 0x0d) {
            this.#state = State.SIZE_LF;
          } else {
            this.#fail('invalid chunk size');
          }
          this.#countLine();
          break;
        }
        case State.EXT:
          if (c === 0x0d) this.#state = State.SIZE_LF;
          else if (isControl(c)) this.#fail('control character in a chunk extension');
          this.#countLine();
          break;
        case State.SIZE_LF:
          if (c !== 0x0a) this.#fail('chunk size line not ended by CRLF');
          this.#line = 0;
          this.#digits = 0;
          this.#state = this.#remaining === 0 ? State.TRAILER_START : State.DATA;
          break;
        case State.DATA_CR:
          if (c !== 0x0d) this.#fail('chunk data longer than its size');
          this.#state = State.DATA_LF;
          break;
        case State.DATA_LF:
          if (c !== 0x0a) this.#fail('chunk data not ended by CRLF');
          this.#state = State.SIZE;
          break;
        case State.TRAILER_START:
          if (c === 0x0d) {
            this.#state = State.FINAL_LF;
          } else if (c === 0x20 || c === 0x09 || c === 0x3a || isControl(c)) {
            this.#fail('malformed trailer field');
          } else {
            this.#state = State.TRAILER;
            this.#countTrailer();
          }
          break;
        case State.TRAILER:
          if (c === 0x0d) this.#state = State.TRAILER_LF;
          else if (isControl(c)) this.#fail('control character in a trailer field');
          this.#countTrailer();
          break;
        case State.TRAILER_LF:
          if (c !== 0x0a) this.#fail('trailer field not ended by CRLF');
          this.#line = 0;
          this.#state = State.TRAILER_START;
          break;
        case State.FINAL_LF:
          if (c !== 0x0a) this.#fail('chunked body not ended by CRLF');
          this.done = true;
          return i;
      }
    }
    return i;
  }

  #countLine(): void {
    if (++this.#line > MAX_LINE) this.#fail('chunk size line too long');
  }

  #countTrailer(): void {
    if (++this.#line > MAX_LINE || ++this.#trailers > MAX_TRAILERS) this.#fail('trailer fields too long');
  }

  #fail(message: string): never {
    throw new HttpError(this.#status, message);
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Control characters other than HTAB (CR and LF are handled by the caller first). */
function isControl(c: number): boolean {
  return (c < 0x20 && c !== 0x09) || c === 0x7f;
}

// Where a message body ends, found as its bytes stream past: a Content-Length counted down, or
// a chunked body walked chunk by chunk (size line, data, CRLF, ..., last chunk, trailers). The
// bytes themselves are forwarded as they are; the framer only says how many belong to the body,
// and, for a client that cannot read chunked (HTTP/1.0), which of them are payload.
// Chunk sizes, extensions and trailers are read strictly and bounded: a malformed one throws.

import { TOKEN } from './header-lines.ts';
import { HttpError } from './responses.ts';

const State = {
  SIZE: 0, // hex digits of a chunk size
  EXT: 1, // chunk extensions, up to CR (their own grammar: see Ext)
  SIZE_LF: 2, // LF after the size line
  DATA: 3,
  DATA_CR: 4, // CR after chunk data
  DATA_LF: 5,
  TRAILER_START: 6, // a trailer field, or the final CRLF
  TRAILER_NAME: 7,
  TRAILER_VALUE: 8,
  TRAILER_LF: 9,
  FINAL_LF: 10,
} as const;

/**
 * Where a chunk extension is: `;` BWS name [ BWS `=` BWS ( token | quoted-string ) ] BWS
 * (RFC 9112 7.1.1). Read to the grammar, not skipped to the CR, because a member that reads a
 * quoted string or a bare LF otherwise than we do would see the chunk end somewhere else.
 */
const Ext = {
  NAME_START: 0, // after `;`: BWS, then a token
  NAME: 1,
  AFTER_NAME: 2, // BWS, then `=`, `;` or CR
  VALUE_START: 3, // after `=`: BWS, then a token or a quoted string
  TOKEN: 4,
  QUOTED: 5,
  QUOTED_PAIR: 6, // after a backslash in a quoted string
  AFTER_VALUE: 7, // BWS, then `;` or CR
} as const;

/** A chunk size line (size and extensions) may not be longer than this. */
const MAX_LINE = 4096;
/** All trailer fields together, unless the caller says otherwise (a request's head limit). */
const MAX_TRAILERS = 32 * 1024;
/** As many trailer fields as header fields. */
const MAX_TRAILER_FIELDS = 200;

/**
 * Fields that may not come as trailers (RFC 9110 6.5.1). A recipient that merged one into the
 * head would frame, route or authorise the message otherwise than we did. The framing and
 * connection fields are refused in both directions; the rest (request modifiers, credentials,
 * how the content is read) in requests, where a member acting on them is what is at stake: a
 * member's response is not cut for an odd trailer its client will most likely ignore.
 */
const FRAMING_TRAILERS = new Set([
  'content-length', 'transfer-encoding', 'te', 'trailer', 'host', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'http2-settings',
]);
const REQUEST_TRAILERS = new Set([
  'expect', 'max-forwards', 'range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range',
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'content-type', 'content-encoding', 'content-range',
  'cache-control', 'pragma', 'age', 'expires', 'date', 'location', 'retry-after', 'vary', 'www-authenticate', 'proxy-authenticate',
  'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto',
]);

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
  #ext: number = Ext.NAME_START;
  #digits = 0;
  #line = 0;
  #trailers = 0;
  #trailerFields = 0;
  #maxTrailers = MAX_TRAILERS;
  /** the trailer field name being read, lowercased (trailers are rare: this is off the hot path) */
  #name = '';
  /** 400 for a request body, 502 for a response body (which also tells them apart) */
  #status = 400;
  /** the trailer fields read, each line with its CRLF, when keepTrailers() asked for them */
  trailers = '';
  #keepTrailers = false;

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

  /** `maxTrailers`: the bytes all trailer fields may take together (a request's head limit). */
  chunked(status: number, maxTrailers = MAX_TRAILERS): this {
    this.#chunked = true;
    this.#status = status;
    this.#maxTrailers = maxTrailers;
    return this;
  }

  /** Gather the trailer fields into `trailers` (for a reader that gets the payload without its framing). */
  keepTrailers(): this {
    this.#keepTrailers = true;
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
            this.#ext = Ext.NAME_START;
          } else if (c === 0x0d) {
            this.#state = State.SIZE_LF;
          } else {
            this.#fail('invalid chunk size');
          }
          this.#countLine();
          break;
        }
        case State.EXT:
          this.#extension(c);
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
        // Trailer fields are read as strictly as header fields (header-lines.ts): a token name
        // directly followed by ':', a value without control characters, CRLF, no obs-fold.
        case State.TRAILER_START:
          if (c === 0x0d) {
            this.#state = State.FINAL_LF;
          } else if (c < 128 && TOKEN[c] === 1) {
            if (++this.#trailerFields > MAX_TRAILER_FIELDS) this.#fail('too many trailer fields');
            this.#name = String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
            this.#state = State.TRAILER_NAME;
            this.#countTrailer();
            this.#keep(c);
          } else {
            this.#fail(c === 0x20 || c === 0x09 ? 'folded trailer line (obs-fold)' : 'malformed trailer field');
          }
          break;
        case State.TRAILER_NAME:
          if (c === 0x3a /* : */) {
            if (FRAMING_TRAILERS.has(this.#name) || (this.#status === 400 && REQUEST_TRAILERS.has(this.#name))) {
              this.#fail(`${this.#name} is not allowed as a trailer field`);
            }
            this.#state = State.TRAILER_VALUE;
          } else if (c < 128 && TOKEN[c] === 1) {
            this.#name += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
          } else {
            this.#fail('invalid trailer field name');
          }
          this.#countTrailer();
          this.#keep(c);
          break;
        case State.TRAILER_VALUE:
          if (c === 0x0d) this.#state = State.TRAILER_LF;
          else if (isControl(c)) this.#fail('control character in a trailer field');
          this.#countTrailer();
          this.#keep(c);
          break;
        case State.TRAILER_LF:
          if (c !== 0x0a) this.#fail('bare CR in a trailer field');
          this.#state = State.TRAILER_START;
          this.#keep(c);
          break;
        case State.FINAL_LF:
          if (c !== 0x0a) this.#fail('chunked body not ended by CRLF');
          this.done = true;
          return i;
      }
    }
    return i;
  }

  /** One character of a chunk extension. */
  #extension(c: number): void {
    const bws = c === 0x20 || c === 0x09;
    const token = c < 128 && TOKEN[c] === 1;
    switch (this.#ext) {
      case Ext.NAME_START:
        if (token) this.#ext = Ext.NAME;
        else if (!bws) this.#fail('malformed chunk extension');
        return;
      case Ext.NAME:
      case Ext.AFTER_NAME:
        if (c === 0x3d /* = */) this.#ext = Ext.VALUE_START;
        else if (c === 0x3b) this.#ext = Ext.NAME_START;
        else if (c === 0x0d) this.#state = State.SIZE_LF;
        else if (bws) this.#ext = Ext.AFTER_NAME;
        else if (!token || this.#ext === Ext.AFTER_NAME) this.#fail('malformed chunk extension');
        return;
      case Ext.VALUE_START:
        if (c === 0x22 /* " */) this.#ext = Ext.QUOTED;
        else if (token) this.#ext = Ext.TOKEN;
        else if (!bws) this.#fail('malformed chunk extension');
        return;
      case Ext.TOKEN:
      case Ext.AFTER_VALUE:
        if (c === 0x3b) this.#ext = Ext.NAME_START;
        else if (c === 0x0d) this.#state = State.SIZE_LF;
        else if (bws) this.#ext = Ext.AFTER_VALUE;
        else if (!token || this.#ext === Ext.AFTER_VALUE) this.#fail('malformed chunk extension');
        return;
      case Ext.QUOTED:
        // qdtext: HTAB, SP, visible characters but `"` and `\`, obs-text
        if (c === 0x22) this.#ext = Ext.AFTER_VALUE;
        else if (c === 0x5c /* \ */) this.#ext = Ext.QUOTED_PAIR;
        else if (isControl(c)) this.#fail('control character in a chunk extension');
        return;
      case Ext.QUOTED_PAIR:
        if (isControl(c)) this.#fail('control character in a chunk extension');
        this.#ext = Ext.QUOTED;
        return;
    }
  }

  /** A byte of a trailer field (trailers are rare and bounded: a string is fine). */
  #keep(c: number): void {
    if (this.#keepTrailers) this.trailers += String.fromCharCode(c);
  }

  #countLine(): void {
    if (++this.#line > MAX_LINE) this.#fail('chunk size line too long');
  }

  #countTrailer(): void {
    if (++this.#trailers > this.#maxTrailers) this.#fail(`trailer fields larger than ${this.#maxTrailers} bytes`);
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

/** Control characters other than HTAB (CR and LF among them: callers look for CR first where it ends a line). */
function isControl(c: number): boolean {
  return (c < 0x20 && c !== 0x09) || c === 0x7f;
}

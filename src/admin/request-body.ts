// The admin API's request bodies: read with a bound, UTF-8 JSON (RFC 8259) parsed strictly.
// JSON.parse would take the last of two equal keys ({"state":"enabled","state":"disabled"} is
// one thing to one reader and another to the next), turn 1e400 into Infinity, and replace bytes
// that are not UTF-8 with U+FFFD; here each of those is a 400 saying where. Bodies are a few
// flat keys: nesting deeper than MAX_DEPTH is refused too, so no input can recurse far.

import type { IncomingMessage } from 'node:http';
import { ApiError, MAX_BODY } from './http.ts';

export const MAX_DEPTH = 16;

/**
 * The request's JSON body, or undefined when it has none. Refused: more than MAX_BODY bytes
 * (413), a type other than JSON (415), text that is not JSON (400).
 */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY) throw new ApiError(413, `the body is larger than ${MAX_BODY} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new ApiError(413, `the body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  return decodeBody(Buffer.concat(chunks), req.headers['content-type']);
}

/** A whole body's value: undefined when empty; 415 unless it says JSON; 400 unless it is strict JSON. */
export function decodeBody(bytes: Buffer, contentType: string | undefined): unknown {
  if (bytes.length === 0) return undefined;
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new ApiError(415, `expected a JSON body (Content-Type: application/json), got ${type === '' ? 'no Content-Type' : type.slice(0, 100)}`);
  return parseJsonBody(bytes);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The value of a body's bytes; an ApiError 400 for anything but one strict JSON value. */
export function parseJsonBody(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw invalid('it is not UTF-8 text');
  }
  const parser = new Parser(text);
  parser.space();
  const value = parser.value(0);
  parser.space();
  if (parser.at < text.length) throw parser.unexpected();
  return value;
}

function invalid(why: string): ApiError {
  return new ApiError(400, `the body is not valid JSON: ${why}`);
}

class Parser {
  readonly text: string;
  at = 0;

  constructor(text: string) {
    this.text = text;
  }

  space(): void {
    const t = this.text;
    for (;;) {
      const c = t.charCodeAt(this.at);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.at++;
    }
  }

  unexpected(): ApiError {
    if (this.at >= this.text.length) return invalid('it ends too soon');
    return invalid(`unexpected ${JSON.stringify(this.text[this.at])} at character ${this.at + 1}`);
  }

  value(depth: number): unknown {
    const c = this.text.charCodeAt(this.at);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (depth >= MAX_DEPTH) throw invalid(`it nests deeper than ${MAX_DEPTH} levels`);
      return c === 0x7b ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === 0x22 /* " */) return this.string();
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) return this.number();
    for (const [word, value] of WORDS) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    throw this.unexpected();
  }

  object(depth: number): Record<string, unknown> {
    this.at++; // {
    const out: Record<string, unknown> = {};
    this.space();
    if (this.text.charCodeAt(this.at) === 0x7d /* } */) {
      this.at++;
      return out;
    }
    for (;;) {
      if (this.text.charCodeAt(this.at) !== 0x22) throw this.unexpected();
      const keyAt = this.at;
      const key = this.string();
      if (Object.hasOwn(out, key)) throw invalid(`the key ${JSON.stringify(key)} appears twice (at character ${keyAt + 1})`);
      this.space();
      if (this.text.charCodeAt(this.at) !== 0x3a /* : */) throw this.unexpected();
      this.at++;
      this.space();
      // defined, not assigned, as JSON.parse does: a key "__proto__" is a key like any other
      Object.defineProperty(out, key, { value: this.value(depth), enumerable: true, writable: true, configurable: true });
      this.space();
      const c = this.text.charCodeAt(this.at++);
      if (c === 0x7d) return out;
      if (c !== 0x2c /* , */) {
        this.at--;
        throw this.unexpected();
      }
      this.space();
    }
  }

  array(depth: number): unknown[] {
    this.at++; // [
    const out: unknown[] = [];
    this.space();
    if (this.text.charCodeAt(this.at) === 0x5d /* ] */) {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.space();
      const c = this.text.charCodeAt(this.at++);
      if (c === 0x5d) return out;
      if (c !== 0x2c) {
        this.at--;
        throw this.unexpected();
      }
      this.space();
    }
  }

  /** Finds the string's end by the grammar, then lets JSON.parse decode its escapes. */
  string(): string {
    const t = this.text;
    const start = this.at;
    let i = start + 1;
    for (;;) {
      if (i >= t.length) {
        this.at = i;
        throw this.unexpected();
      }
      const c = t.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) {
        this.at = i;
        throw invalid(`a control character in a string at character ${i + 1}`);
      }
      i += c === 0x5c /* \ */ ? 2 : 1;
    }
    this.at = i + 1;
    try {
      return JSON.parse(t.slice(start, i + 1)) as string;
    } catch {
      throw invalid(`a bad escape in the string at character ${start + 1}`);
    }
  }

  number(): number {
    const t = this.text;
    const start = this.at;
    let i = start;
    if (t.charCodeAt(i) === 0x2d) i++;
    if (t.charCodeAt(i) === 0x30) i++;
    else if (isDigit(t.charCodeAt(i))) while (isDigit(t.charCodeAt(i))) i++;
    else return this.fail(i);
    if (t.charCodeAt(i) === 0x2e /* . */) {
      i++;
      if (!isDigit(t.charCodeAt(i))) return this.fail(i);
      while (isDigit(t.charCodeAt(i))) i++;
    }
    const e = t.charCodeAt(i);
    if (e === 0x65 || e === 0x45 /* e E */) {
      i++;
      const sign = t.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      if (!isDigit(t.charCodeAt(i))) return this.fail(i);
      while (isDigit(t.charCodeAt(i))) i++;
    }
    this.at = i;
    const value = Number(t.slice(start, i));
    if (!Number.isFinite(value)) throw invalid(`the number at character ${start + 1} is too large`);
    return value;
  }

  fail(at: number): never {
    this.at = at;
    throw this.unexpected();
  }
}

const WORDS: readonly [string, unknown][] = [['true', true], ['false', false], ['null', null]];

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

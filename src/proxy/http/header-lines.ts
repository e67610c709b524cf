// The header section of an HTTP/1.1 message, read strictly (RFC 9112): every line ends with
// CRLF, a field name is a token directly followed by ":", values hold no control characters,
// and a line folded onto the previous one (obs-fold) is refused. A message read any more
// loosely could be framed differently by the member behind us: that is request smuggling.
// This runs for every request and response: one pass over the characters, lines kept as
// offsets, the result's arrays reused.

import { HttpError } from './responses.ts';

/** tchar (RFC 9110 5.6.2), by character code: 1 for a token character */
export const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;

/**
 * The field names the proxy acts on. Other fields are passed through as they are, so their
 * names are not even copied out: a field is matched against the known names of its length.
 */
const KNOWN = [
  'host', 'te', 'upgrade', 'expect', 'trailer', 'connection', 'keep-alive', 'content-length', 'transfer-encoding',
  'proxy-connection', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'http2-settings',
];
const BY_LENGTH: (string[] | undefined)[] = [];
for (const name of KNOWN) (BY_LENGTH[name.length] ??= []).push(name);

/** The known name the field at head[start, start + length) has (any case), or '' for another name. */
function knownName(head: string, start: number, length: number): string {
  const candidates = BY_LENGTH[length];
  if (candidates === undefined) return '';
  next: for (const name of candidates) {
    for (let j = 0; j < length; j++) {
      let c = head.charCodeAt(start + j);
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== name.charCodeAt(j)) continue next;
    }
    return name;
  }
  return '';
}

/**
 * The header fields of one message, in order. The arrays are reused by the next call: read
 * them before parsing another message.
 */
export interface HeaderLines {
  /** how many fields */
  count: number;
  /** each field's name when it is one the proxy acts on (lowercase), else '' (see nameOf) */
  names: string[];
  /** the values of those fields, without surrounding whitespace ('' for the others) */
  values: string[];
  /** where each field's line starts in the head; starts[count] is where the section ends */
  starts: number[];
  /** where each field's name ends */
  nameEnds: number[];
}

const shared: HeaderLines = { count: 0, names: [], values: [], starts: [], nameEnds: [] };

/** Any field's name, lowercased (for the rare fields a Connection header names). */
export function nameOf(head: string, lines: HeaderLines, i: number): string {
  return lines.names[i] !== '' ? lines.names[i] : head.slice(lines.starts[i], lines.nameEnds[i]).toLowerCase();
}

/** Whether field i's name is `name` (lowercase), in any case, without copying it out. */
export function nameIs(head: string, lines: HeaderLines, i: number, name: string): boolean {
  const start = lines.starts[i];
  if (lines.nameEnds[i] - start !== name.length) return false;
  for (let j = 0; j < name.length; j++) {
    let c = head.charCodeAt(start + j);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== name.charCodeAt(j)) return false;
  }
  return true;
}

/** Any field's value, without surrounding whitespace (`values` holds only the known fields'). */
export function valueOf(head: string, lines: HeaderLines, i: number): string {
  return head.slice(lines.nameEnds[i] + 1, lines.starts[i + 1] - 2).trim();
}

/**
 * Reads the fields of `head` from `start` (just after the start line's CRLF) to `end` (the
 * index of the CRLF that ends the head, which the head must end with). One pass over the
 * characters checks everything. `status` is the answer to a malformed field: 400 for a
 * request, 502 for a response.
 */
export function readHeaderLines(head: string, start: number, end: number, status: number, maxFields: number): HeaderLines {
  const out = shared;
  const { names, values, starts, nameEnds } = out;
  let n = 0;
  let i = start;
  while (i < end) {
    const lineStart = i;
    let c = head.charCodeAt(i);
    if (c === 0x20 || c === 0x09) throw new HttpError(status, 'folded header line (obs-fold)');
    // the name: token characters up to the colon
    while (c !== 0x3a /* : */) {
      if (c >= 128 || TOKEN[c] === 0) {
        const colon = head.indexOf(':', lineStart);
        throw new HttpError(status, colon === -1 || colon > head.indexOf('\r\n', lineStart) ? 'header line without a colon' : 'invalid header name');
      }
      c = head.charCodeAt(++i);
    }
    if (i === lineStart) throw new HttpError(status, 'invalid header name');
    const nameEnd = i;
    // the value: OWS (SP, HTAB) around it is not part of it; no control character within
    c = head.charCodeAt(++i);
    while (c === 0x20 || c === 0x09) c = head.charCodeAt(++i);
    const valueStart = i;
    let valueEnd = i;
    while (c !== 0x0d) {
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw new HttpError(status, 'control character in a header value');
      if (c !== 0x20 && c !== 0x09) valueEnd = i + 1;
      c = head.charCodeAt(++i);
    }
    if (head.charCodeAt(i + 1) !== 0x0a) throw new HttpError(status, 'bare CR in a header line');
    if (n === maxFields) throw new HttpError(status === 400 ? 431 : status, 'too many header fields');
    const name = knownName(head, lineStart, nameEnd - lineStart);
    names[n] = name;
    values[n] = name === '' ? '' : head.slice(valueStart, valueEnd);
    starts[n] = lineStart;
    nameEnds[n] = nameEnd;
    n++;
    i += 2;
  }
  starts[n] = i;
  out.count = n;
  return out;
}

/**
 * The lines of the fields for which `keep(i)` holds, as one string: runs of kept lines are
 * copied as they stand, so a message with nothing to drop costs one slice.
 */
export function keptLines(head: string, lines: HeaderLines, keep: (i: number) => boolean): string {
  let out = '';
  let run = -1;
  const { starts, count } = lines;
  for (let i = 0; i < count; i++) {
    if (keep(i)) {
      if (run === -1) run = starts[i];
    } else if (run !== -1) {
      out += head.slice(run, starts[i]);
      run = -1;
    }
  }
  if (run !== -1) out += head.slice(run, starts[count]);
  return out;
}

const KEEP_ALIVE = ['keep-alive'];
const CLOSE = ['close'];

/** The comma-separated elements of a list-valued field, lowercased, empty ones left out. */
export function listTokens(value: string): string[] {
  // the common Connection values, without splitting (the arrays are shared: do not change them)
  if (value.length === 10 && value.toLowerCase() === 'keep-alive') return KEEP_ALIVE;
  if (value.length === 5 && value.toLowerCase() === 'close') return CLOSE;
  const out: string[] = [];
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '') out.push(token);
  }
  return out;
}

/**
 * Fields that belong to one connection, never forwarded (RFC 9110 7.6.1), plus those a
 * `Connection` header names. Transfer-Encoding and Upgrade are handled by the framing code.
 */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'http2-settings']);

/** The fields a Connection header names to drop (its tokens but close, keep-alive, upgrade); null for none. */
export function namedFields(connection: readonly string[] | null): readonly string[] | null {
  if (connection === null) return null;
  let out: string[] | null = null;
  for (const token of connection) {
    if (token !== 'close' && token !== 'keep-alive' && token !== 'upgrade') (out ??= []).push(token);
  }
  return out;
}

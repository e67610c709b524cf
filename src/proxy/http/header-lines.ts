// The header section of an HTTP/1.1 message, read strictly (RFC 9112): every line ends with
// CRLF, a field name is a token directly followed by ":", values hold no control characters,
// and a line folded onto the previous one (obs-fold) is refused. A message read any more
// loosely could be framed differently by the member behind us: that is request smuggling.
// This runs for every request and response: one pass over the characters, lines kept as
// offsets, the result's arrays reused.

import { HttpError } from './responses.ts';

/** tchar (RFC 9110 5.6.2), by character code (any latin1 one: 0 from 128 up): 1 for a token character */
export const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;
/**
 * field-vchar, SP and HTAB (RFC 9110 5.5), by latin1 character code: 1 for what a field value may
 * hold (obs-text included), 0 for the control characters (CR among them) and DEL.
 */
const VALUE = new Uint8Array(256).fill(1);
for (let c = 0; c < 0x20; c++) if (c !== 0x09) VALUE[c] = 0;
VALUE[0x7f] = 0;

/** What a known field is to a proxy, as bits: the fields it does not forward as they came. */
export const FieldClass = {
  /** belongs to one connection, never forwarded (RFC 9110 7.6.1) */
  HOP: 1,
  /** Content-Length and Transfer-Encoding: written anew from what was read */
  FRAMING: 2,
  /** what the forwarded-header rewrite replaces */
  FORWARDED: 4,
} as const;

/**
 * The field names the proxy acts on, with their class. Other fields are passed through as they
 * are, so their names are not even copied out: a field is matched against the known names of its length.
 */
const KNOWN: readonly [string, number][] = [
  ['host', 0], ['expect', 0], ['content-length', FieldClass.FRAMING], ['transfer-encoding', FieldClass.FRAMING],
  ['te', FieldClass.HOP], ['upgrade', FieldClass.HOP], ['trailer', FieldClass.HOP], ['connection', FieldClass.HOP],
  ['keep-alive', FieldClass.HOP], ['proxy-connection', FieldClass.HOP], ['http2-settings', FieldClass.HOP],
  ['x-forwarded-for', FieldClass.FORWARDED], ['x-forwarded-host', FieldClass.FORWARDED],
  ['x-forwarded-proto', FieldClass.FORWARDED], ['forwarded', FieldClass.FORWARDED],
];
/** the indexes into KNOWN of the names of each length */
const BY_LENGTH: (number[] | undefined)[] = [];
KNOWN.forEach(([name], k) => (BY_LENGTH[name.length] ??= []).push(k));
const KNOWN_CODES = KNOWN.map(([name]) => Buffer.from(name, 'latin1'));

/** The index in KNOWN of the name at raw[start, start + length) (any case), or -1 for another name. */
function knownName(raw: Uint8Array, start: number, length: number): number {
  const candidates = BY_LENGTH[length];
  if (candidates === undefined) return -1;
  next: for (const k of candidates) {
    const name = KNOWN_CODES[k];
    for (let j = 0; j < length; j++) {
      let c = raw[start + j];
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== name[j]) continue next;
    }
    return k;
  }
  return -1;
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
  /** the FieldClass bits of each field (0 for the fields not named in KNOWN) */
  classes: number[];
  /** the values of those fields, without surrounding whitespace ('' for the others) */
  values: string[];
  /** where each field's line starts in the head; starts[count] is where the section ends */
  starts: number[];
  /** where each field's name ends */
  nameEnds: number[];
}

const shared: HeaderLines = { count: 0, names: [], classes: [], values: [], starts: [], nameEnds: [] };

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
 * request, 502 for a response. `raw`, when given, holds the head's bytes from index 0 (the
 * buffer it was read from: scanning bytes is faster than scanning a string's characters); else
 * they are made from `head`, which is latin1 text (every head is: read off the wire, or fields
 * built from such and from ASCII settings).
 */
export function readHeaderLines(head: string, start: number, end: number, status: number, maxFields: number, raw: Uint8Array | null = null): HeaderLines {
  const bytes = raw ?? Buffer.from(head, 'latin1');
  const out = shared;
  const { names, classes, values, starts, nameEnds } = out;
  let n = 0;
  let i = start;
  // (each byte is looked at once, through a table: this runs for every message)
  while (i < end) {
    const lineStart = i;
    let c = bytes[i];
    // the name: token characters up to the colon
    while (TOKEN[c] === 1) c = bytes[++i];
    if (c !== 0x3a /* : */ || i === lineStart) throw new HttpError(status, badName(head, lineStart));
    const nameEnd = i;
    // the value: OWS (SP, HTAB) around it is not part of it; no control character within
    c = bytes[++i];
    while (c === 0x20 || c === 0x09) c = bytes[++i];
    const valueStart = i;
    while (VALUE[c] === 1) c = bytes[++i];
    if (c !== 0x0d) throw new HttpError(status, 'control character in a header value');
    if (bytes[i + 1] !== 0x0a) throw new HttpError(status, 'bare CR in a header line');
    let valueEnd = i;
    while (valueEnd > valueStart && (bytes[valueEnd - 1] === 0x20 || bytes[valueEnd - 1] === 0x09)) valueEnd--;
    if (n === maxFields) throw new HttpError(status === 400 ? 431 : status, 'too many header fields');
    const k = knownName(bytes, lineStart, nameEnd - lineStart);
    if (k === -1) {
      names[n] = '';
      classes[n] = 0;
      values[n] = '';
    } else {
      names[n] = KNOWN[k][0];
      classes[n] = KNOWN[k][1];
      values[n] = head.slice(valueStart, valueEnd);
    }
    starts[n] = lineStart;
    nameEnds[n] = nameEnd;
    n++;
    i += 2;
  }
  starts[n] = i;
  out.count = n;
  return out;
}

/** Why the line at `lineStart` has no valid name (worked out only for a refusal). */
function badName(head: string, lineStart: number): string {
  const c = head.charCodeAt(lineStart);
  if (c === 0x20 || c === 0x09) return 'folded header line (obs-fold)';
  const colon = head.indexOf(':', lineStart);
  if (colon === -1 || colon > head.indexOf('\r\n', lineStart)) return 'header line without a colon';
  return 'invalid header name';
}

/** which lines the next joinKept keeps (1) or drops (0); reused */
const kept: number[] = [];

/**
 * The lines of the fields to forward as one string: those of no class in `drop` and not named
 * by the Connection field (`extra`, see namedFields).
 */
export function forwardedLines(head: string, lines: HeaderLines, drop: number, extra: readonly string[] | null): string {
  const { classes, count } = lines;
  for (let i = 0; i < count; i++) kept[i] = (classes[i] & drop) === 0 && (extra === null || !extra.includes(nameOf(head, lines, i))) ? 1 : 0;
  return joinKept(head, lines);
}

/** The lines of the fields for which `keep(i)` holds, as one string. */
export function keptLines(head: string, lines: HeaderLines, keep: (i: number) => boolean): string {
  for (let i = 0; i < lines.count; i++) kept[i] = keep(i) ? 1 : 0;
  return joinKept(head, lines);
}

/** The lines `kept` marks: runs of them are copied as they stand, so a message with nothing to drop costs one slice. */
function joinKept(head: string, lines: HeaderLines): string {
  let out = '';
  let run = -1;
  const { starts, count } = lines;
  for (let i = 0; i < count; i++) {
    if (kept[i] === 1) {
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

/** The fields a Connection header names to drop (its tokens but close, keep-alive, upgrade); null for none. */
export function namedFields(connection: readonly string[] | null): readonly string[] | null {
  if (connection === null) return null;
  let out: string[] | null = null;
  for (const token of connection) {
    if (token !== 'close' && token !== 'keep-alive' && token !== 'upgrade') (out ??= []).push(token);
  }
  return out;
}

// The header section of an HTTP/1.1 message, read strictly (RFC 9112): every line ends with
// CRLF, a field name is a token directly followed by ":", values hold no control characters,
// and a line folded onto the previous one (obs-fold) is refused. A message read any more
// loosely could be framed differently by the member behind us: that is request smuggling.

import { HttpError } from './responses.ts';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** control characters other than HTAB (CR and LF included: inside a line they are bare) */
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** The header fields of one message, in order: names lowercased for lookup, raw lines for copying. */
export interface HeaderLines {
  /** lowercased field names */
  names: string[];
  /** values without surrounding whitespace */
  values: string[];
  /** each field's line as received, with its CRLF */
  lines: string[];
}

/**
 * Reads the fields of `head` from `start` (just after the start line's CRLF) to `end` (the
 * index of the CRLF that ends the head). `status` is the answer to a malformed field: 400 for
 * a request, 502 for a response.
 */
export function readHeaderLines(head: string, start: number, end: number, status: number, maxFields: number): HeaderLines {
  const names: string[] = [];
  const values: string[] = [];
  const lines: string[] = [];
  let at = start;
  while (at < end) {
    const eol = head.indexOf('\r\n', at);
    const c = head.charCodeAt(at);
    if (c === 0x20 || c === 0x09) throw new HttpError(status, 'folded header line (obs-fold)');
    const colon = head.indexOf(':', at);
    if (colon === -1 || colon > eol) throw new HttpError(status, 'header line without a colon');
    const name = head.slice(at, colon);
    if (!TOKEN.test(name)) throw new HttpError(status, 'invalid header name');
    // Only SP and HTAB surround a value (OWS); String.trim would also eat other characters.
    let from = colon + 1;
    let to = eol;
    while (from < to && isOws(head.charCodeAt(from))) from++;
    while (to > from && isOws(head.charCodeAt(to - 1))) to--;
    const value = head.slice(from, to);
    if (BAD_VALUE.test(value)) throw new HttpError(status, 'control character in a header value');
    if (names.length === maxFields) throw new HttpError(status === 400 ? 431 : status, 'too many header fields');
    names.push(name.toLowerCase());
    values.push(value);
    lines.push(head.slice(at, eol + 2));
    at = eol + 2;
  }
  return { names, values, lines };
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** The comma-separated elements of a list-valued field, lowercased, empty ones left out. */
export function listTokens(value: string): string[] {
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

/** Whether the field `name` is one to drop: hop-by-hop, or named by the Connection header. */
export function isHopByHop(name: string, named: readonly string[] | null): boolean {
  return HOP_BY_HOP.has(name) || (named !== null && named.includes(name));
}

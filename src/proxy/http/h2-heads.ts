// Heads between an HTTP/2 client and HTTP/1.1 members. A request's header list becomes the text
// of an HTTP/1.1 head, which parseRequestHead then reads and judges like any other (method,
// target, Host, Content-Length, forwarded fields, limits): one place decides what is a valid
// request, whatever the client spoke. The pseudo-headers become the request line and Host; the
// connection-specific fields (RFC 9113 8.2.2) are dropped; cookies, which HTTP/2 may split,
// are joined again (8.2.3); a body with no Content-Length goes chunked. A member's head (field
// lines) becomes a header list for the client, without the connection-specific fields.

import type { OutgoingHttpHeaders } from 'node:http2';
import type { ResponseHead } from './response-head.ts';

/** Fields that mean something for one HTTP/1 connection only: never sent either way. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings', 'host']);

/**
 * The HTTP/1.1 head (ending with its blank line) for a stream's header list, given as Node's
 * raw pairs [name, value, ...] (names in lowercase, checked by nghttp2). `hasBody`: the client
 * did not end the stream with its headers. A missing :method or :path is left for the parser
 * to refuse (an empty request line part).
 */
export function requestHeadText(raw: readonly string[], hasBody: boolean): string {
  let method = '';
  let path = '';
  let authority: string | null = null;
  let host: string | null = null;
  let cookie: string | null = null;
  let length = false;
  let fields = '';
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name.charCodeAt(0) === 0x3a /* : */) {
      // (nghttp2 refuses a repeated pseudo-header; the first one counts here in any case)
      if (name === ':method') method ||= value;
      else if (name === ':path') path ||= value;
      else if (name === ':authority') authority ??= value;
      // :scheme is the client's view; the forwarded fields say https from the connection itself
      continue;
    }
    if (name === 'cookie') {
      cookie = cookie === null ? value : `${cookie}; ${value}`;
      continue;
    }
    if (CONNECTION_SPECIFIC.has(name)) {
      if (name === 'host') host ??= value;
      continue;
    }
    if (name === 'content-length') length = true;
    fields += `${name}: ${value}\r\n`;
  }
  let head = `${method} ${path} HTTP/1.1\r\n`;
  // :authority wins over Host (RFC 9113 8.3.1); without either, the parser answers 400 (no Host)
  const target = authority ?? host;
  if (target !== null) head += `host: ${target}\r\n`;
  head += fields;
  if (cookie !== null) head += `cookie: ${cookie}\r\n`;
  if (hasBody && !length) head += 'transfer-encoding: chunked\r\n';
  return `${head}\r\n`;
}

/** where headBytesOf writes a head's bytes (reused from head to head: one request is read at a time) */
let headBytes = Buffer.allocUnsafeSlow(4096);

/**
 * The bytes of `head` (latin1 text from requestHeadText), for the parser to scan: written into a
 * buffer reused from head to head, not a new one each time. Valid until the next call.
 */
export function headBytesOf(head: string): Buffer {
  if (head.length > headBytes.length) headBytes = Buffer.allocUnsafeSlow(Math.max(head.length, 2 * headBytes.length));
  headBytes.write(head, 0, 'latin1');
  return headBytes;
}

/** The chunk-size line of `length` payload bytes, for a request body sent on chunked. */
export function chunkLine(length: number): string {
  return `${length.toString(16)}\r\n`;
}

/** The last chunk of a chunked request body, with the client's trailers (Node's header object). */
export function lastChunk(trailers: Record<string, string | string[] | undefined> | null): string {
  let out = '0\r\n';
  if (trailers !== null) {
    for (const name of Object.keys(trailers)) {
      if (name.charCodeAt(0) === 0x3a || CONNECTION_SPECIFIC.has(name) || name === 'content-length') continue;
      const value = trailers[name];
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) out += `${name}: ${v}\r\n`;
      else out += `${name}: ${value}\r\n`;
    }
  }
  return `${out}\r\n`;
}

/** Field names never passed on from a member's field lines, by length (any case matches). */
const DROPPED_BY_LENGTH: (string[] | undefined)[] = [];
for (const name of [...CONNECTION_SPECIFIC, 'trailer', 'content-length']) (DROPPED_BY_LENGTH[name.length] ??= []).push(name);

/** Whether the name at fields[start, end) is one of DROPPED_BY_LENGTH's, in any case, without copying it out. */
function dropped(fields: string, start: number, end: number): boolean {
  const candidates = DROPPED_BY_LENGTH[end - start];
  if (candidates === undefined) return false;
  next: for (const name of candidates) {
    for (let j = 0; j < name.length; j++) {
      let c = fields.charCodeAt(start + j);
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== name.charCodeAt(j)) continue next;
    }
    return true;
  }
  return false;
}

/**
 * Field lines (`Name: value` CRLF) pushed on `list` as raw pairs, without the connection-specific
 * ones; names lowercased when `lower` (respond() lowercases them itself). The lines are a
 * ResponseHead's: read strictly when their head was (or made by furiwake), so they are only
 * split here, not checked a second time.
 */
function pushFields(fields: string, list: string[], lower: boolean): void {
  const end = fields.length;
  let i = 0;
  while (i < end) {
    const colon = fields.indexOf(':', i);
    const eol = colon === -1 ? -1 : fields.indexOf('\r\n', colon);
    if (eol === -1) return; // (not a field line: cannot be, as said above)
    if (!dropped(fields, i, colon)) {
      const name = fields.slice(i, colon);
      list.push(lower ? name.toLowerCase() : name, fields.slice(colon + 1, eol).trim());
    }
    i = eol + 2;
  }
}

/** Field lines as a header object (interim responses, trailers); repeated names become arrays. */
export function fieldsToHeaders(fields: string, start: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const list: string[] = [];
  pushFields(fields, list, true);
  // (no prototype: a field named constructor or __proto__ is a field like any other, not Object's)
  const into = Object.assign(Object.create(null) as OutgoingHttpHeaders, start);
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i];
    const had = into[name];
    if (had === undefined) into[name] = list[i + 1];
    else if (Array.isArray(had)) had.push(list[i + 1]);
    else into[name] = [String(had), list[i + 1]];
  }
  return into;
}

/**
 * The header list of a member's final response as raw pairs [name, value, ...]: what
 * stream.respond takes as it is (an object it would copy into one of its own first).
 */
export function responseHeaders(res: ResponseHead): string[] {
  const list = [':status', String(res.status)];
  pushFields(res.fields, list, false);
  // the length a body has (or a HEAD or 304 answer reports); a chunked body's end is the stream's
  if (res.contentLength !== -1 && (res.body === 'length' || (res.body === 'none' && res.transferEncoding === null))) {
    list.push('content-length', String(res.contentLength));
  }
  return list;
}

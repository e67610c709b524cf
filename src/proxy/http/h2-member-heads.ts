// Heads between furiwake and HTTP/2 members (h2-member-stream.ts). A request becomes a header list
// with the fields the head writer gives HTTP/1.1 members, built from the request as read (never a
// head's text read back): its method and target (an absolute-form target's path) as pseudo-headers,
// Host as :authority (none when empty), the connection-specific fields (RFC 9113 8.2.2) dropped, TE
// only as "trailers" (always for gRPC). A
// member's header list (validated by nghttp2: lowercase names, values without CR, LF or NUL)
// becomes the exchange's ResponseHead directly, its fields as lines, never as HTTP/1.1 text read
// again.

import type { OutgoingHttpHeaders } from 'node:http2';
import { isGrpc } from './grpc.ts';
import { forwardedFields, type ForwardingContext } from './head-writer.ts';
import type { RequestHead } from './request-head.ts';
import type { ResponseHead } from './response-head.ts';
import { HttpError } from './responses.ts';

/** Fields that mean something for one HTTP/1 connection only (RFC 9113 8.2.2): never sent to an HTTP/2 member. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host']);
/** A member's fields never passed on: the connection-specific ones, the framing (written apart), TE and Trailer (hop-by-hop). */
const NOT_PASSED = new Set([...CONNECTION_SPECIFIC, 'content-length', 'te', 'trailer']);
/** A member's head (or its trailers) may take this many bytes of field lines, as an HTTP/1.1 member's head. */
const MAX_FIELD_LINES = 64 * 1024;
/** The status of a gRPC trailers-only response: moved to the trailers. */
export const GRPC_STATUS_FIELDS: ReadonlySet<string> = new Set(['grpc-status', 'grpc-message', 'grpc-status-details-bin']);

/**
 * Errors node's http2 throws when it will not send a request's header list (a name that is not a
 * token, a value it refuses, a connection-specific or repeated single-value field, a bad
 * pseudo-header): the request's fault, not the member's.
 */
const UNSENDABLE_HEAD = new Set([
  'ERR_HTTP2_INVALID_HEADER_VALUE', 'ERR_INVALID_HTTP_TOKEN', 'ERR_INVALID_CHAR', 'ERR_HTTP2_HEADER_SINGLE_VALUE',
  'ERR_HTTP2_INVALID_CONNECTION_HEADERS', 'ERR_HTTP2_INVALID_PSEUDOHEADER', 'ERR_HTTP2_CONNECT_AUTHORITY',
  'ERR_HTTP2_CONNECT_PATH', 'ERR_HTTP2_CONNECT_SCHEME',
]);

/** `code` (a member stream's error) says the request's head could not be put in HTTP/2. */
export function unsendableHead(code: string | undefined): boolean {
  return code !== undefined && UNSENDABLE_HEAD.has(code);
}

export interface MemberRequest {
  method: string;
  /** the header list as raw pairs [name, value, ...], pseudo-headers first: what node's http2 sends as it is */
  headers: string[];
  /** the body comes chunked (its payload and trailers go as DATA and trailers) */
  chunked: boolean;
  /** Content-Length; -1 when none */
  length: number;
}

/**
 * The header list for `req` as an HTTP/2 member gets it, built from the request as read: the
 * fields memberRequestHead would write for an HTTP/1.1 member (the client's, Host when it sent
 * none, the forwarded fields, the header rules' edits), without a head's text made and read back.
 */
export function memberRequestList(req: RequestHead, ctx: ForwardingContext, scheme: 'http' | 'https'): MemberRequest {
  let fields = req.fields;
  // as memberRequestHead: without Host, the target's authority or the member's address (then :authority)
  if (!req.hostField) fields += `host: ${req.host ?? ctx.memberHost}\r\n`;
  if (ctx.forwarded !== 'none') fields += forwardedFields(req, ctx);
  if (ctx.headers != null) fields = ctx.headers.request(fields);
  const headers = [':method', req.method, ':scheme', scheme, ':path', originForm(ctx.target ?? req.target), ':authority', ''];
  // the framing as it was read (the fields never hold it): a length, or chunked (sent as DATA)
  pushRequestFields(fields, 0, headers, req.chunked ? -1 : req.contentLength);
  return { method: req.method, headers: withoutEmptyAuthority(headers), chunked: req.chunked, length: req.chunked ? -1 : req.contentLength };
}

/**
 * The header list for `head`, a request head's text as memberRequestHead writes it (request
 * line, then field lines each with its CRLF; the request it came from was judged by
 * parseRequestHead): for a head written on an HTTP/2 member's stream as text.
 */
export function memberRequestHeaders(head: string, scheme: 'http' | 'https'): MemberRequest {
  const lineEnd = head.indexOf('\r\n');
  const line = head.slice(0, lineEnd);
  const sp1 = line.indexOf(' ');
  const sp2 = line.lastIndexOf(' ');
  const method = line.slice(0, sp1);
  const headers = [':method', method, ':scheme', scheme, ':path', originForm(line.slice(sp1 + 1, sp2)), ':authority', ''];
  const framing = pushRequestFields(head, lineEnd + 2, headers, -1);
  return { method, headers: withoutEmptyAuthority(headers), chunked: framing === CHUNKED, length: framing === CHUNKED ? -1 : framing };
}

/** pushRequestFields saw Transfer-Encoding (the head writer writes chunked alone) */
const CHUNKED = -2;

/**
 * The field lines of text[at..] pushed on `headers` (whose :authority value, pair 4, a Host line
 * sets) as HTTP/2 takes them: names lowercase, values trimmed, the connection-specific fields
 * dropped, TE only as "trailers" (always for a gRPC call); then Content-Length `length` unless
 * -1. Returns the Content-Length a line gave (-1: none), or CHUNKED.
 */
function pushRequestFields(text: string, at: number, headers: string[], length: number): number {
  let framing = -1;
  let te = false;
  /** the Content-Type, when there is one only */
  let type: string | null = null;
  let types = 0;
  while (at < text.length) {
    let end = text.indexOf('\r\n', at);
    if (end === -1) end = text.length;
    const colon = text.indexOf(':', at);
    if (colon === -1 || colon > end) {
      at = end + 2;
      continue;
    }
    const name = text.slice(at, colon).toLowerCase();
    const value = text.slice(colon + 1, end).trim();
    at = end + 2;
    if (CONNECTION_SPECIFIC.has(name)) {
      // an empty Host is a target without authority (RFC 9112 3.2): no :authority, which HTTP/2 may not send empty (RFC 9113 8.3.1)
      if (name === 'host') headers[7] = value;
      else if (name === 'transfer-encoding') framing = CHUNKED;
      continue;
    }
    if (name === 'te') {
      // only "trailers" may go in HTTP/2 (RFC 9113 8.2.2)
      if (!te && value.toLowerCase().split(',').some((t) => t.trim() === 'trailers')) {
        te = true;
        headers.push('te', 'trailers');
      }
      continue;
    }
    if (name === 'content-length') framing = Number(value);
    else if (name === 'content-type' && types++ === 0) type = value;
    headers.push(name, value);
  }
  if (length !== -1) headers.push('content-length', String(length));
  // TE is hop-by-hop in HTTP/1.1 (the client's was not passed on); gRPC servers may insist on it
  if (!te && types === 1 && isGrpc(type!)) headers.push('te', 'trailers');
  return framing;
}

/** `headers` without its :authority pair when no Host gave it a value. */
function withoutEmptyAuthority(headers: string[]): string[] {
  if (headers[7] === '') headers.splice(6, 2);
  return headers;
}

/** The path of a target as HTTP/2's :path takes it: origin-form as is; an absolute-form's path. */
export function originForm(target: string): string {
  if (target.charCodeAt(0) === 0x2f /* / */ || target === '*') return target;
  const scheme = target.indexOf('://');
  if (scheme === -1) return target;
  const slash = target.indexOf('/', scheme + 3);
  const query = target.indexOf('?', scheme + 3);
  if (slash === -1) return query === -1 ? '/' : `/${target.slice(query)}`;
  return query !== -1 && query < slash ? `/${target.slice(query)}` : target.slice(slash);
}

/**
 * Field lines (`name: value` CRLF) from a member's header list or trailers, raw pairs [name, value,
 * ...] as node's http2 gives them (names lowercase tokens, values without CR, LF or NUL, as
 * nghttp2 checked them): without the pseudo-headers, the fields not passed on and those in
 * `skip`. A value with another control character (HTTP/1.1 clients and node's http2 refuse it) or
 * lines over 64 KiB together are the member's fault: an HttpError 502, as for an HTTP/1.1 member.
 */
export function memberFieldLines(raw: readonly string[], skip: ReadonlySet<string> | null): string {
  let out = '';
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    if (name.charCodeAt(0) === 0x3a /* : */ || NOT_PASSED.has(name) || (skip !== null && skip.has(name))) continue;
    const value = raw[i + 1];
    for (let j = 0; j < value.length; j++) {
      const c = value.charCodeAt(j);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) throw new HttpError(502, 'control character in a header value from the member');
    }
    out += `${name}: ${value}\r\n`;
    if (out.length > MAX_FIELD_LINES) throw new HttpError(502, 'response head from the member is too large');
  }
  return out;
}

/**
 * A member's response head as the exchange reads heads: `code`, its status (nghttp2 checked its three
 * digits), `raw` its header list, `length` its Content-Length (nghttp2 checked it and holds the
 * DATA to it; undefined: none), `noBody` the head ended the stream. A body of unknown length is
 * 'chunked' to HTTP/1.1 clients (its payload framed by the exchange, its end the stream's); a gRPC
 * trailers-only response is a head without its grpc-status fields (`trailers` then says them).
 * Throws the HttpError 502 of memberFieldLines.
 */
export function memberResponseHead(code: number, raw: readonly string[], length: string | undefined, noBody: boolean, method: string): MemberResponse {
  const bodiless = method === 'HEAD' || code === 204 || code === 304 || code < 200;
  if (noBody && !bodiless && hasField(raw, 'grpc-status')) {
    const status: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) if (GRPC_STATUS_FIELDS.has(raw[i])) status.push(raw[i], raw[i + 1]);
    return { head: responseHead(code, memberFieldLines(raw, GRPC_STATUS_FIELDS), 'chunked', -1), trailers: memberFieldLines(status, null) };
  }
  const fields = memberFieldLines(raw, null);
  const n = length === undefined ? -1 : contentLength(length);
  if (bodiless) return { head: responseHead(code, fields, 'none', n), trailers: null };
  if (n !== -1) return { head: responseHead(code, fields, 'length', n), trailers: null };
  if (noBody) return { head: responseHead(code, fields, 'length', 0), trailers: null };
  return { head: responseHead(code, fields, 'chunked', -1), trailers: null };
}

export interface MemberResponse {
  head: ResponseHead;
  /** a gRPC trailers-only response's status fields, as trailer lines; null otherwise */
  trailers: string | null;
}

function responseHead(status: number, fields: string, body: ResponseHead['body'], contentLength: number): ResponseHead {
  return { status, reason: '', minor: 1, fields, body, contentLength, transferEncoding: body === 'chunked' ? 'chunked' : null, close: false, upgrade: null };
}

function hasField(raw: readonly string[], name: string): boolean {
  for (let i = 0; i < raw.length; i += 2) if (raw[i] === name) return true;
  return false;
}

/** A Content-Length value (1 to 15 digits); anything else is the member's fault. */
function contentLength(value: string): number {
  const n = value.length;
  if (n === 0 || n > 15) throw new HttpError(502, 'invalid Content-Length from the member');
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) throw new HttpError(502, 'invalid Content-Length from the member');
    v = v * 10 + c;
  }
  return v;
}

/** A chunked request's trailer lines (as the body framer kept them) as a header list. */
export function trailerHeaders(fields: string): OutgoingHttpHeaders {
  // (no prototype: a field named constructor or __proto__ is a field like any other, not Object's)
  const out: OutgoingHttpHeaders = Object.create(null) as OutgoingHttpHeaders;
  for (let at = 0; at < fields.length; ) {
    let end = fields.indexOf('\r\n', at);
    if (end === -1) end = fields.length;
    const colon = fields.indexOf(':', at);
    if (colon !== -1 && colon < end) {
      const name = fields.slice(at, colon).trim().toLowerCase();
      if (name !== '' && !CONNECTION_SPECIFIC.has(name) && name !== 'content-length' && name !== 'te' && name !== 'trailer') {
        const value = fields.slice(colon + 1, end).trim();
        const had = out[name];
        if (had === undefined) out[name] = value;
        else if (Array.isArray(had)) had.push(value);
        else out[name] = [String(had), value];
      }
    }
    at = end + 2;
  }
  return out;
}

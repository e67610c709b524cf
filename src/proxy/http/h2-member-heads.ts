// Heads between furiwake and HTTP/2 members (h2-member-stream.ts). A request head as the head
// writer made it for HTTP/1.1 members becomes a header list: the request line's method and target
// (an absolute-form target's path) as pseudo-headers, Host as :authority (none when empty), the
// connection-specific fields (RFC 9113 8.2.2) dropped, TE only as "trailers" (always for gRPC). A
// member's header list (validated by nghttp2: lowercase names, values without CR, LF or NUL)
// becomes field lines.

import type { OutgoingHttpHeaders } from 'node:http2';
import { isGrpc } from './grpc.ts';

/** Fields that mean something for one HTTP/1 connection only (RFC 9113 8.2.2): never sent to an HTTP/2 member. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host']);
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
  headers: OutgoingHttpHeaders;
  /** the body comes chunked (its payload and trailers go as DATA and trailers) */
  chunked: boolean;
  /** Content-Length; -1 when none */
  length: number;
}

/**
 * The header list for `head`, a request head as memberRequestHead wrote it (request line, then
 * field lines each with its CRLF; the request it came from was judged by parseRequestHead).
 */
export function memberRequestHeaders(head: string, scheme: 'http' | 'https'): MemberRequest {
  const lineEnd = head.indexOf('\r\n');
  const line = head.slice(0, lineEnd);
  const sp1 = line.indexOf(' ');
  const sp2 = line.lastIndexOf(' ');
  const method = line.slice(0, sp1);
  const headers: OutgoingHttpHeaders = { ':method': method, ':scheme': scheme, ':path': originForm(line.slice(sp1 + 1, sp2)) };
  let chunked = false;
  let length = -1;
  for (let at = lineEnd + 2; at < head.length; ) {
    let end = head.indexOf('\r\n', at);
    if (end === -1) end = head.length;
    const colon = head.indexOf(':', at);
    if (colon === -1 || colon > end) {
      at = end + 2;
      continue;
    }
    const name = head.slice(at, colon).toLowerCase();
    const value = head.slice(colon + 1, end).trim();
    at = end + 2;
    if (CONNECTION_SPECIFIC.has(name)) {
      // an empty Host is a target without authority (RFC 9112 3.2): no :authority, which HTTP/2 may not send empty (RFC 9113 8.3.1)
      if (name === 'host') {
        if (value !== '') headers[':authority'] = value;
      }
      else if (name === 'transfer-encoding') chunked = true; // the head writer writes chunked alone
      continue;
    }
    if (name === 'te') {
      // only "trailers" may go in HTTP/2 (RFC 9113 8.2.2)
      if (value.toLowerCase().split(',').some((t) => t.trim() === 'trailers')) headers.te = 'trailers';
      continue;
    }
    if (name === 'content-length') length = Number(value);
    const had = headers[name];
    if (had === undefined) headers[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else headers[name] = [String(had), value];
  }
  // TE is hop-by-hop in HTTP/1.1 (the client's was not passed on); gRPC servers may insist on it
  const type = headers['content-type'];
  if (typeof type === 'string' && isGrpc(type)) headers.te = 'trailers';
  return { method, headers, chunked, length };
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
 * Field lines from raw pairs (names lowercase, checked by nghttp2, values without CR, LF or NUL),
 * without the pseudo-headers, the connection-specific fields, Content-Length (written apart) and
 * those in `skip`.
 */
export function fieldLines(raw: readonly string[], skip: ReadonlySet<string> | null): string {
  let out = '';
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    if (name.charCodeAt(0) === 0x3a || CONNECTION_SPECIFIC.has(name) || name === 'content-length' || name === 'te') continue;
    if (skip !== null && skip.has(name)) continue;
    out += `${name}: ${raw[i + 1]}\r\n`;
  }
  return out;
}

/** A chunked request's trailer lines (as the body framer kept them) as a header list. */
export function trailerHeaders(fields: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
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

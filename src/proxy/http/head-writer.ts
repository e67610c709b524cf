// The heads furiwake writes: the request as it goes to a member (the client's end-to-end fields,
// the forwarded headers, our own connection handling) and the response as it goes back to the
// client (the member's end-to-end fields and the framing the client can read).

import type { ForwardedHeaders } from '../../config/http-types.ts';
import type { HeaderEditor } from './header-rules.ts';
import type { RequestHead } from './request-head.ts';
import type { ResponseHead } from './response-head.ts';
import { REASONS } from './responses.ts';

export interface ForwardingContext {
  forwarded: ForwardedHeaders;
  /** the client's address, canonical (forwardedAddress): only validated text goes toward members */
  client: string;
  /** the client reached us over TLS */
  https: boolean;
  /** Host for a request that came without one and without an absolute-form target (HTTP/1.0): the member's address */
  memberHost: string;
  /** ask the member to close after this response (no keep-alive towards members) */
  close: boolean;
  /** the target as the member gets it when a route rewrote the path; absent: the request's */
  target?: string;
  /** header rules and the request id (header-rules.ts); absent or null: the fields as they are */
  headers?: HeaderEditor | null;
}

/** The request head for the member: always HTTP/1.1, so the member connection can be kept. */
export function memberRequestHead(req: RequestHead, ctx: ForwardingContext): string {
  let fields = req.fields;
  // HTTP/1.0 without Host gets the member's address; an absolute-form target's authority is the Host
  if (!req.hostField) fields += `host: ${req.host ?? ctx.memberHost}\r\n`;
  if (ctx.forwarded !== 'none') fields += forwardedFields(req, ctx);
  // header rules see every end-to-end field the member would get (they cannot name the framing or connection fields)
  if (ctx.headers != null) fields = ctx.headers.request(fields);
  let head = `${req.method} ${ctx.target ?? req.target} HTTP/1.1\r\n${fields}`;
  // The framing as we read it, in one spelling: a member cannot read `Chunked`, ` 005` or a
  // list otherwise than we did.
  if (req.chunked) head += 'transfer-encoding: chunked\r\n';
  else if (req.contentLength !== -1) head += `content-length: ${req.contentLength}\r\n`;
  if (req.upgrade !== null) head += `connection: upgrade\r\nupgrade: ${req.upgrade}\r\n\r\n`;
  else head += ctx.close ? 'connection: close\r\n\r\n' : '\r\n';
  return head;
}

/** The forwarded fields furiwake adds (field lines), for a head or an HTTP/2 member's header list (h2-member-heads.ts). */
export function forwardedFields(req: RequestHead, ctx: ForwardingContext): string {
  const client = ctx.client;
  const proto = ctx.https ? 'https' : 'http';
  let out = '';
  if (ctx.forwarded === 'x-forwarded' || ctx.forwarded === 'both') {
    out += `x-forwarded-for: ${req.forwardedFor === null ? client : `${req.forwardedFor}, ${client}`}\r\n`;
    out += `x-forwarded-proto: ${proto}\r\n`;
    if (req.host !== null) out += `x-forwarded-host: ${req.host}\r\n`;
  }
  if (ctx.forwarded === 'forwarded' || ctx.forwarded === 'both') {
    // RFC 7239: an IPv6 node and a host with a port are quoted strings.
    let element = `for=${client.includes(':') ? `"[${client}]"` : client};proto=${proto}`;
    if (req.host !== null) element += `;host=${/^[A-Za-z0-9.-]+$/.test(req.host) ? req.host : `"${req.host}"`}`;
    out += `forwarded: ${req.forwarded === null ? element : `${req.forwarded}, ${element}`}\r\n`;
  }
  // Without the rewrite, the client's own forwarded fields went through untouched in `fields`.
  if (ctx.forwarded === 'x-forwarded') out += passThrough('forwarded', req.forwarded);
  if (ctx.forwarded === 'forwarded') out += passThrough('x-forwarded-for', req.forwardedFor);
  return out;
}

function passThrough(name: string, value: string | null): string {
  return value === null ? '' : `${name}: ${value}\r\n`;
}

export interface ClientFraming {
  /** the client's HTTP minor version */
  minor: number;
  /** the client connection closes after this response */
  close: boolean;
  /** the body is chunked but the client reads HTTP/1.0: send the payload alone */
  dechunk: boolean;
}

/** The response head for the client. */
export function clientResponseHead(res: ResponseHead, framing: ClientFraming): string {
  let head = `HTTP/1.1 ${res.status} ${res.reason === '' ? (REASONS[res.status] ?? '') : res.reason}\r\n${res.fields}`;
  // A chunked or close-delimited body is framed by Transfer-Encoding or the close, never by a
  // Content-Length that came along with it; a HEAD or 304 answer keeps either as informative, but
  // not both: Transfer-Encoding overrides, and the Content-Length is removed (RFC 9112 6.3), as
  // strict readers refuse the pair.
  if (res.contentLength !== -1 && (res.body === 'length' || (res.body === 'none' && res.transferEncoding === null))) head += `content-length: ${res.contentLength}\r\n`;
  // An HTTP/1.0 client knows no transfer codings (RFC 9112 6.1): a dechunked body, and a HEAD or
  // 304 answer, which has no body to dechunk, go to it without the field.
  if (res.transferEncoding !== null && !framing.dechunk && (framing.minor !== 0 || res.body !== 'none')) head += `transfer-encoding: ${res.transferEncoding}\r\n`;
  if (res.status === 101) return `${head}connection: upgrade\r\nupgrade: ${res.upgrade ?? ''}\r\n\r\n`;
  if (framing.close) return `${head}connection: close\r\n\r\n`;
  return framing.minor === 0 ? `${head}connection: keep-alive\r\n\r\n` : `${head}\r\n`;
}

/** A 1xx interim response (100 Continue, 103 Early Hints) passed on as received. */
export function interimHead(res: ResponseHead): string {
  return `HTTP/1.1 ${res.status} ${res.reason === '' ? (REASONS[res.status] ?? '') : res.reason}\r\n${res.fields}\r\n`;
}

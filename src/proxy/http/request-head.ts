// A request head as the client sent it, parsed and judged: the request line, the fields to
// forward, and how the body is framed. Anything that two HTTP implementations could read two
// ways (both Content-Length and Transfer-Encoding, two Content-Lengths, an unknown coding,
// folded lines, bad characters) is refused here with a 400-class HttpError, before a byte of it
// reaches a member.

import { FieldClass, forwardedLines, listTokens, namedFields, readHeaderLines, TOKEN } from './header-lines.ts';
import { HttpError } from './responses.ts';

export interface RequestHead {
  method: string;
  target: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0 */
  minor: number;
  /**
   * The host the request is for: the authority of an absolute-form target, else the Host
   * field; null when there is neither (HTTP/1.0 only).
   */
  host: string | null;
  /** the client's Host line is among `fields` (when not, the head writer adds one) */
  hostField: boolean;
  /** body length from Content-Length; -1 when there is none */
  contentLength: number;
  chunked: boolean;
  /** the client wants the connection kept after this exchange */
  keepAlive: boolean;
  /** the protocol asked for with `Connection: upgrade` (WebSocket); null otherwise */
  upgrade: string | null;
  expectContinue: boolean;
  /**
   * The end-to-end fields, each line with its CRLF, in order; not Content-Length nor
   * Transfer-Encoding (written anew from `contentLength` and `chunked`).
   */
  fields: string;
  /** values of the fields a forwarding proxy adds to; null when absent */
  forwardedFor: string | null;
  forwarded: string | null;
}

export interface RequestLimits {
  requestLine: number;
  headers: number;
}

/** The fields not forwarded as they came: the head writer writes the framing anew, from what was read. */
const DROPPED = FieldClass.HOP | FieldClass.FRAMING;
/** the most header fields a request may have (beyond: 431) */
const MAX_FIELDS = 200;
/** absolute-form: scheme, authority (no userinfo: `@` is not a host character), then path and query; no fragment */
const ABSOLUTE = /^(https?):\/\/([^/?#]*)([^#]*)$/i;

// (the grammar checks below look at character codes through tables: they run for every request)

/** Whether s[from, to) is a token (RFC 9110 5.6.2): one or more tchar. */
export function isToken(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) if (TOKEN[s.charCodeAt(i)] !== 1) return false;
  return true;
}

/** Whether s[from, to) is one or more visible ASCII characters: a target with spaces, controls or raw 8-bit bytes is malformed. */
function isVisible(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** reg-name characters (RFC 3986 3.2.2: unreserved, pct-encoded's %, sub-delims), by character code */
const REG_NAME = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~%!$&'()*+,;=-") REG_NAME[c.charCodeAt(0)] = 1;
/** what an IP literal in brackets is made of here: hex digits, colons and dots */
const IP_LITERAL = new Uint8Array(256);
for (const c of '0123456789ABCDEFabcdef:.') IP_LITERAL[c.charCodeAt(0)] = 1;

/**
 * Host and an absolute-form authority (RFC 3986 3.2.2-3.2.3): an IP literal in brackets or a
 * reg-name (which covers IPv4, and may be empty), then an optional port of at most five digits.
 * `a:b:c` or a port of letters would be read differently by different members: refused.
 */
export function isHost(s: string): boolean {
  const n = s.length;
  let i = 0;
  if (n > 0 && s.charCodeAt(0) === 0x5b /* [ */) {
    i = 1;
    while (i < n && IP_LITERAL[s.charCodeAt(i)] === 1) i++;
    if (i === 1 || i === n || s.charCodeAt(i) !== 0x5d /* ] */) return false;
    i++;
  } else {
    while (i < n && REG_NAME[s.charCodeAt(i)] === 1) i++;
  }
  if (i === n) return true;
  if (s.charCodeAt(i) !== 0x3a /* : */ || n - i - 1 > 5) return false;
  for (i++; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Whether `s` is 1 to 15 decimal digits (a length that is a safe integer). */
export function isDigits(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 15) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** `host:80` for http and `host:443` for https name the same host as `host`. */
function withoutDefaultPort(host: string, https: boolean): string {
  const port = https ? ':443' : ':80';
  return host.endsWith(port) ? host.slice(0, -port.length) : host;
}

/**
 * Parses `head`, the latin1 text of a request head ending with its blank line (CRLFCRLF).
 * `rewrite` leaves the forwarded-header fields out of `fields` (their values are kept apart).
 * `raw`: the bytes `head` was read from, when at hand (see readHeaderLines).
 */
export function parseRequestHead(head: string, limits: RequestLimits, rewrite: boolean, raw: Uint8Array | null = null): RequestHead {
  const lineEnd = head.indexOf('\r\n');
  if (lineEnd > limits.requestLine) throw new HttpError(414, `request line longer than ${limits.requestLine} bytes`);
  const line = head.slice(0, lineEnd);
  const sp1 = line.indexOf(' ');
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1 || line.indexOf(' ', sp2 + 1) !== -1) throw new HttpError(400, 'malformed request line');
  if (!isToken(line, 0, sp1)) throw new HttpError(400, 'invalid method');
  if (!isVisible(line, sp1 + 1, sp2)) throw new HttpError(400, 'invalid request target');
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  const minor = version === 'HTTP/1.1' ? 1 : version === 'HTTP/1.0' ? 0 : -1;
  if (minor === -1) {
    if (/^HTTP\/\d\.\d$/.test(version)) throw new HttpError(505, `${version} is not supported; use HTTP/1.1`);
    throw new HttpError(400, 'malformed HTTP version');
  }
  if (method === 'CONNECT') throw new HttpError(405, 'CONNECT is not served by a reverse proxy');
  if (target.includes('#')) throw new HttpError(400, 'a fragment (#) in the request target');
  let authority: string | null = null;
  let secure = false;
  let path = target;
  if (target.charCodeAt(0) !== 0x2f /* / */ && !(target === '*' && method === 'OPTIONS')) {
    // absolute-form (RFC 9112 3.2.2): the authority is the host; the member gets origin-form
    const m = ABSOLUTE.exec(target);
    if (m === null) throw new HttpError(400, 'invalid request target');
    authority = m[2];
    if (authority === '' || !isHost(authority)) throw new HttpError(400, 'invalid authority in the request target');
    path = m[3] === '' ? (method === 'OPTIONS' ? '*' : '/') : m[3];
    if (path.charCodeAt(0) === 0x3f /* ? */) path = `/${path}`;
    secure = m[1].length === 5;
    authority = withoutDefaultPort(authority, secure);
  }

  const lines = readHeaderLines(head, lineEnd + 2, head.length - 2, 400, MAX_FIELDS, raw);
  const { names, values } = lines;
  const req: RequestHead = {
    method, target: path, minor, host: null, hostField: false, contentLength: -1, chunked: false, keepAlive: minor === 1,
    upgrade: null, expectContinue: false, fields: '', forwardedFor: null, forwarded: null,
  };
  let connection: string[] | null = null;
  let upgrade: string | null = null;
  let hosts = 0;
  let lengths = 0;
  let codings: string[] | null = null;
  for (let i = 0; i < lines.count; i++) {
    const name = names[i];
    const value = values[i];
    switch (name) {
      case 'host':
        hosts++;
        req.host = value;
        break;
      case 'content-length':
        lengths++;
        if (!isDigits(value)) throw new HttpError(400, 'invalid Content-Length');
        req.contentLength = Number(value);
        break;
      case 'transfer-encoding':
        (codings ??= []).push(...listTokens(value));
        break;
      case 'connection':
        (connection ??= []).push(...listTokens(value));
        break;
      case 'upgrade':
        upgrade = value;
        break;
      case 'expect':
        if (value.toLowerCase() !== '100-continue') throw new HttpError(417, 'only "Expect: 100-continue" is understood');
        req.expectContinue = minor === 1;
        break;
      case 'x-forwarded-for':
        req.forwardedFor = req.forwardedFor === null ? value : `${req.forwardedFor}, ${value}`;
        break;
      case 'forwarded':
        req.forwarded = req.forwarded === null ? value : `${req.forwarded}, ${value}`;
        break;
    }
  }

  // framing: one Content-Length, or chunked as the only coding, never both (RFC 9112 6.1, 6.3)
  if (lengths > 1) throw new HttpError(400, 'more than one Content-Length');
  if (codings !== null) {
    if (lengths > 0) throw new HttpError(400, 'both Content-Length and Transfer-Encoding');
    if (minor === 0) throw new HttpError(400, 'Transfer-Encoding in an HTTP/1.0 request');
    if (codings.length !== 1 || codings[0] !== 'chunked') throw new HttpError(501, 'the only transfer coding understood is chunked');
    req.chunked = true;
  }
  if (hosts > 1) throw new HttpError(400, 'more than one Host');
  if (hosts === 0 && minor === 1) throw new HttpError(400, 'no Host');
  if (req.host !== null && !isHost(req.host)) throw new HttpError(400, 'invalid Host');
  req.hostField = hosts === 1;
  if (authority !== null) {
    // A Host that names another host than the target would route one way here and another way
    // behind us (a member's internal virtual host): refused, as HAProxy does.
    if (req.host !== null && withoutDefaultPort(req.host, secure).toLowerCase() !== authority.toLowerCase()) {
      throw new HttpError(400, 'the Host field differs from the authority of the request target');
    }
    req.host = authority;
  }

  if (connection !== null) {
    // Naming a framing field in Connection would have a proxy drop it and change the framing.
    for (const named of ['content-length', 'transfer-encoding', 'host']) {
      if (connection.includes(named)) throw new HttpError(400, `Connection names ${named}`);
    }
    if (connection.includes('close')) req.keepAlive = false;
    else if (minor === 0 && connection.includes('keep-alive')) req.keepAlive = true;
    // h2c is not offered to members: an HTTP/2 connection behind us would carry requests that
    // furiwake never reads (nor routes, nor persists). The request goes on without the upgrade.
    if (upgrade !== null && minor === 1 && connection.includes('upgrade') && !listTokens(upgrade).includes('h2c')) req.upgrade = upgrade;
  }

  req.fields = forwardedLines(head, lines, rewrite ? DROPPED | FieldClass.FORWARDED : DROPPED, namedFields(connection));
  return req;
}

/** Methods that can be sent again without changing the outcome (RFC 9110 9.2.2). */
export function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'TRACE':
    case 'PUT':
    case 'DELETE':
      return true;
    default:
      return false;
  }
}

// A member's response head, parsed: the status, the end-to-end fields to pass on, and how the
// body is framed (RFC 9112 6.3). A head that cannot be framed for certain is a 502: the client
// is never handed a response whose end we would only be guessing.

import { FieldClass, forwardedLines, listTokens, namedFields, readHeaderLines } from './header-lines.ts';
import { isDigits } from './request-head.ts';
import { HttpError } from './responses.ts';

export type BodyKind = 'none' | 'length' | 'chunked' | 'close';

export interface ResponseHead {
  status: number;
  reason: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0 */
  minor: number;
  /** end-to-end fields other than Content-Length and Transfer-Encoding, each line with its CRLF */
  fields: string;
  body: BodyKind;
  /** the Content-Length field; -1 when absent */
  contentLength: number;
  /** the transfer codings as received, e.g. "chunked" or "gzip, chunked"; null without */
  transferEncoding: string | null;
  /** the member will close this connection after the response */
  close: boolean;
  /** the Upgrade field of a 101 */
  upgrade: string | null;
}

const MAX_FIELDS = 500;

/**
 * The status code of a status line `HTTP/1.x DDD[ reason]` (the reason without controls but
 * HTAB, nor DEL) that ends at `lineEnd`; -1 when the line is not one.
 */
function statusOf(head: string, lineEnd: number): number {
  if (lineEnd < 12 || !head.startsWith('HTTP/1.') || head.charCodeAt(8) !== 0x20) return -1;
  const minor = head.charCodeAt(7);
  if (minor !== 0x30 && minor !== 0x31) return -1;
  const d1 = head.charCodeAt(9) - 0x30;
  const d2 = head.charCodeAt(10) - 0x30;
  const d3 = head.charCodeAt(11) - 0x30;
  if (d1 < 1 || d1 > 9 || d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) return -1;
  if (lineEnd > 12) {
    if (head.charCodeAt(12) !== 0x20) return -1;
    for (let i = 13; i < lineEnd; i++) {
      const c = head.charCodeAt(i);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) return -1;
    }
  }
  return d1 * 100 + d2 * 10 + d3;
}

/**
 * Parses `head` (latin1, ending with CRLFCRLF), the answer to a request with `method`. `raw`:
 * the bytes `head` was read from, when at hand (see readHeaderLines).
 */
export function parseResponseHead(head: string, method: string, raw: Uint8Array | null = null): ResponseHead {
  const lineEnd = head.indexOf('\r\n');
  const status = statusOf(head, lineEnd);
  if (status === -1) throw new HttpError(502, 'malformed status line from the member');
  const minor = head.charCodeAt(7) - 0x30;
  const lines = readHeaderLines(head, lineEnd + 2, head.length - 2, 502, MAX_FIELDS, raw);
  const { names, values } = lines;

  let connection: string[] | null = null;
  let length = -1;
  let codings: string[] | null = null;
  let upgrade: string | null = null;
  for (let i = 0; i < lines.count; i++) {
    switch (names[i]) {
      case 'content-length': {
        // Repeats of one value are tolerated (some servers do that); different values are not.
        const value = values[i];
        if (!isDigits(value)) throw new HttpError(502, 'invalid Content-Length from the member');
        if (length !== -1 && length !== Number(value)) throw new HttpError(502, 'conflicting Content-Length from the member');
        length = Number(value);
        break;
      }
      case 'transfer-encoding':
        (codings ??= []).push(...listTokens(values[i]));
        break;
      case 'connection':
        (connection ??= []).push(...listTokens(values[i]));
        break;
      case 'upgrade':
        upgrade = values[i];
        break;
    }
  }

  const res: ResponseHead = {
    status, reason: lineEnd > 13 ? head.slice(13, lineEnd) : '', minor, fields: '', body: 'none', contentLength: length, transferEncoding: codings?.join(', ') ?? null,
    close: connection !== null ? connection.includes('close') : false, upgrade: status === 101 ? upgrade : null,
  };
  // An HTTP/1.0 sender knows no chunks: its framing is faulty (RFC 9112 6.1), read otherwise by
  // other readers; a 502, as a request of that kind gets a 400.
  if (minor === 0 && codings !== null) throw new HttpError(502, 'Transfer-Encoding in an HTTP/1.0 response from the member');
  if (minor === 0 && (connection === null || !connection.includes('keep-alive'))) res.close = true;

  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) {
    res.body = 'none';
  } else if (codings !== null) {
    // Transfer-Encoding wins over Content-Length (RFC 9112 6.3); a member that sends both is
    // not trusted with its connection again. Without chunked last, the body runs to the close.
    const chunked = codings[codings.length - 1] === 'chunked';
    res.body = chunked ? 'chunked' : 'close';
    if (length !== -1 || !chunked) res.close = true;
  } else if (length !== -1) {
    res.body = 'length';
  } else {
    res.body = 'close';
    res.close = true;
  }

  res.fields = forwardedLines(head, lines, FieldClass.HOP | FieldClass.FRAMING, namedFields(connection));
  return res;
}

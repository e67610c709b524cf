// The balancer's own responses: errors (400, 408, 414, 431, 502, 503, 504, ...) with small plain
// bodies that say what happened (or the service's error pages), redirects, and the answers routes give (respond, deny). Each is one latin1 string, written at once.

import type { ServedPage } from './error-pages.ts';

/** A request or response that cannot be handled; `status` is what the client is told. */
export class HttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export const REASONS: Readonly<Record<number, string>> = {
  100: 'Continue',
  101: 'Switching Protocols',
  102: 'Processing',
  103: 'Early Hints',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  410: 'Gone',
  429: 'Too Many Requests',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export interface ErrorOptions {
  /** the connection closes after this response */
  close: boolean;
  /** seconds, for 503 */
  retryAfter?: number;
  /** a HEAD request gets the headers without the body */
  head?: boolean;
  /** the client's HTTP minor version: an HTTP/1.0 client is told a kept connection is kept */
  minor?: number;
  /** the service's error page for this status (error-pages.ts); absent or null: the plain text */
  page?: ServedPage | null;
}

/** The Connection field of our own answers: close, or keep-alive for an HTTP/1.0 client (whose default is to close). */
function connectionField(close: boolean, minor: number): string {
  return close ? 'connection: close\r\n' : minor === 0 ? 'connection: keep-alive\r\n' : '';
}

/** The one-line text body of our own error answers, whatever protocol carries it. */
export function errorText(status: number, message: string): string {
  return `${status} ${REASONS[status] ?? 'Error'}: ${message}\n`;
}

/** A complete error response: status line, a few headers and a one-line text body. */
export function errorResponse(status: number, message: string, options: ErrorOptions): string {
  // the service's page for this status (error-pages), else the one line saying what happened
  const page = options.page;
  const body = page == null ? errorText(status, message) : page.latin1;
  const type = page == null ? 'text/plain; charset=utf-8' : page.contentType;
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\ncontent-type: ${type}\r\ncontent-length: ${page == null ? Buffer.byteLength(body) : page.bytes.length}\r\ncache-control: no-store\r\n`;
  if (options.retryAfter !== undefined) head += `retry-after: ${options.retryAfter}\r\n`;
  head += `${connectionField(options.close, options.minor ?? 1)}\r\n`;
  return options.head === true ? head : head + body;
}

/** A route's own answer: `body` (text, sent as UTF-8) of `contentType`; 204 and 304 have none. */
export function plainResponse(status: number, contentType: string, body: string, options: ErrorOptions): string {
  const reason = REASONS[status] ?? (status < 400 ? 'OK' : 'Error');
  if (status === 204 || status === 304) return `HTTP/1.1 ${status} ${reason}\r\n${connectionField(options.close, options.minor ?? 1)}\r\n`;
  const bytes = Buffer.from(body, 'utf8');
  const head = `HTTP/1.1 ${status} ${reason}\r\ncontent-type: ${contentType}\r\ncontent-length: ${bytes.length}\r\n${connectionField(options.close, options.minor ?? 1)}\r\n`;
  // the response is written as latin1: the body's UTF-8 bytes, one char each
  return options.head === true ? head : head + bytes.toString('latin1');
}

/** A redirect to `location` with an empty body. */
export function redirectResponse(status: number, location: string, close: boolean, minor = 1): string {
  return `HTTP/1.1 ${status} ${REASONS[status]}\r\nlocation: ${location}\r\ncontent-length: 0\r\n${connectionField(close, minor)}\r\n`;
}

// Small HTTP pieces of the admin server: errors that become JSON answers, JSON replies with
// safe headers, and a request body read with a bound.

import type { IncomingMessage, ServerResponse } from 'node:http';

/** The most bytes a request body may have: API bodies are a few keys. */
export const MAX_BODY = 64 * 1024;

export interface IssueView {
  path: string;
  message: string;
  file?: string;
  line?: number;
}

/** An answer other than success, with a message for people: thrown by handlers, sent as JSON. */
export class ApiError extends Error {
  readonly status: number;
  readonly issues: IssueView[] | undefined;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, options: { issues?: IssueView[]; headers?: Record<string, string> } = {}) {
    super(message);
    this.status = status;
    this.issues = options.issues;
    this.headers = options.headers ?? {};
  }
}

/** Headers every answer carries: nothing is cached, nothing is sniffed, nothing is framed. */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { ...BASE_HEADERS, ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  const body: { error: string; issues?: IssueView[] } = { error: err.message };
  if (err.issues !== undefined) body.issues = err.issues;
  sendJson(res, err.status, body, err.headers);
}

/**
 * The request's JSON body, or undefined when it has none. Refused: more than MAX_BODY bytes
 * (413), a type other than JSON (415), text that is not JSON (400).
 */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY) throw new ApiError(413, `the body is larger than ${MAX_BODY} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new ApiError(413, `the body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new ApiError(415, `expected a JSON body (Content-Type: application/json), got ${type === '' ? 'no Content-Type' : type}`);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new ApiError(400, `the body is not valid JSON: ${(err as Error).message}`);
  }
}

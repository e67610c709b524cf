// Small HTTP pieces of the admin server: errors that become JSON answers, JSON replies with
// safe headers.

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

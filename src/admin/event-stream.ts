// Server-sent events for the dashboard: every client gets a full snapshot when it connects,
// then one each second and the member changes as they happen. A client that cannot keep up
// (its unsent data grows past a bound) is dropped; it reconnects and starts from a snapshot.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, BASE_HEADERS } from './http.ts';

/** Dashboards open at once; each costs a snapshot per second. */
export const MAX_CLIENTS = 32;
/** Unsent bytes after which a client is dropped. */
const MAX_BACKLOG = 1024 * 1024;
/** What EventSource-style clients wait before reconnecting (ms). */
const RETRY = 2_000;

export class EventStream {
  readonly #clients = new Set<ServerResponse>();
  readonly #scrub: (text: string) => string;

  /** `scrub` cuts secrets out of each event (redact.ts Scrubber) */
  constructor(scrub: (text: string) => string) {
    this.#scrub = scrub;
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Starts a stream on `res`, beginning with `first` (an event from format()). */
  open(req: IncomingMessage, res: ServerResponse, first: string): void {
    if (req.method === 'HEAD') {
      // the headers a GET would get, and the end: a HEAD has no body to stream
      res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8' });
      res.end();
      return;
    }
    if (this.#clients.size >= MAX_CLIENTS) throw new ApiError(503, `too many event streams open (${MAX_CLIENTS}); close a dashboard`, { headers: { 'Retry-After': '5' } });
    res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'X-Accel-Buffering': 'no' });
    res.write(`retry: ${RETRY}\n\n${this.#scrub(first)}`);
    this.#clients.add(res);
    const drop = (): void => void this.#clients.delete(res);
    res.on('close', drop);
    req.on('error', drop);
  }

  send(event: string): void {
    event = this.#scrub(event);
    for (const res of this.#clients) {
      if (res.writableLength > MAX_BACKLOG) {
        this.#clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(event);
    }
  }

  /** Ends every stream (the plane is closing or moving to another address). */
  close(): void {
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }
}

/** One event in the text/event-stream format. */
export function format(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

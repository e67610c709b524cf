// The access log: one info line per request, in the app's log. Timings are in milliseconds:
// queue (waiting for a member with room), connect (opening a member connection; 0 when a kept
// one was used), firstByte (from the request head to the member's first response byte) and
// total (from the request head to the end of the exchange).

import type { Logger } from '../../log.ts';

export interface Timings {
  /** performance.now() when the request head had been read */
  start: number;
  queue: number;
  connect: number;
  firstByte: number;
}

export interface RequestLine {
  /** the client: behind trusted proxies, the address X-Forwarded-For names */
  client: string;
  /** the address that sent the request, when it is not the client (a trusted proxy) */
  peer?: string;
  service: string;
  /** the route that took the request; absent when the service's pool did (no route matched) */
  route?: string;
  member: string | null;
  /** HTTP/1.1, HTTP/1.0 or HTTP/2: what the client spoke */
  protocol: string;
  /** h2 or h2c when the member was spoken to in HTTP/2 (pool member-protocol); absent for HTTP/1.1 */
  memberProtocol?: string;
  method: string;
  path: string;
  status: number;
  /** bytes sent to the client for this request, head included */
  bytes: number;
  /** the request's id (request-id), as the member got it; absent without request-id */
  requestId?: string;
}

export function logRequest(log: Logger, line: RequestLine, t: Timings): void {
  log.info({
    ...line,
    queue: ms(t.queue),
    connect: ms(t.connect),
    firstByte: ms(t.firstByte),
    total: ms(performance.now() - t.start),
  }, 'request');
}

/** Tenths of a millisecond are plenty for a log. */
function ms(value: number): number {
  return Math.round(value * 10) / 10;
}

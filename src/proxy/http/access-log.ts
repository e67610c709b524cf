// The access log: one line per request. Without a `logs.access` section it is an info line
// 'request' of the process log, with every field; with one, a line in the format it chooses
// (log/access-format.ts, compiled once per config) to its own destination, whatever the process
// log's level. Timings are in milliseconds: queue (waiting for a member with room), connect
// (opening a member connection; 0 when a kept one was used), firstByte (from the request head to
// the member's first response byte) and total (from the request head to the end of the exchange).

import { accessLogOf, type Logger } from '../../log.ts';
import type { AccessEntry } from '../../log/access-format.ts';
import { writeAccessLine } from '../connection-log.ts';
import type { HttpServiceConfig } from '../../config/http-types.ts';

export interface Timings {
  /** performance.now() when the request head had been read */
  start: number;
  queue: number;
  connect: number;
  firstByte: number;
}

/** What is logged of one request (its fields: log/access-format.ts). */
export type RequestLine = AccessEntry;

/** Whether a request of this service is logged (asked once per request, before it is timed). */
export function accessLogging(http: HttpServiceConfig, log: Logger): boolean {
  return http.accessLog && (accessLogOf(log) !== null || log.isLevelEnabled('info'));
}

export function logRequest(log: Logger, line: RequestLine, t: Timings): void {
  writeAccessLine(log, line, t, performance.now() - t.start, 'request');
}

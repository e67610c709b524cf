// The connection log of tcp and udp services (`access-log: true`, like HAProxy's `option tcplog`):
// one line when a tcp connection or a udp flow ends, with the client, service, route, pool,
// member, bytes each way, times and why it ended. It goes where http requests go: without a
// `logs.access` section an info line 'connection' of the process log with every field; with one,
// a line in its format (the fields an http request has and a connection not are null or `-`).
// Times are milliseconds from the client's arrival: queue (waiting for a member with room),
// connect (opening the member connection), firstByte (to the member's first byte), total.

import type { ServiceConfig } from '../config/types.ts';
import { accessLogOf, type Logger } from '../log.ts';
import { ms, type AccessEntry, type AccessTimes } from '../log/access-format.ts';

/** Why a connection or flow ended, in the log's words. */
export type Termination =
  /** tcp: the client (or the member) closed its side first, and the other followed */
  | 'client-closed' | 'member-closed'
  /** tcp: a reset from the client or the member (passed on to the other side) */
  | 'client-reset' | 'member-reset'
  /** nothing either way for timeouts.idle */
  | 'idle-timeout'
  /** tcp: no member could be connected to (refused, unreachable, timeouts.connect), retries included */
  | 'connect-failed'
  /** no member usable; every member full and the queue full; the queue's timeout passed */
  | 'no-member' | 'queue-full' | 'queue-timeout'
  /** tcp: a route refused it (deny, its access), or the service's access behind accept-proxy */
  | 'denied'
  /** tcp: its PROXY header was malformed, missing or late */
  | 'proxy-header'
  /** an operator ended it (API, ctl), its member stopped serving (on-member-down: close), or furiwake stopped */
  | 'terminated'
  /** udp: the flow's place was taken by a new client (max-flows), or a reload removed its service */
  | 'evicted'
  /** an unexpected error ended it (logged with its stack) */
  | 'error';

/** Whether connections of this service are logged (asked once, when one ends). */
export function connectionLogging(config: ServiceConfig, log: Logger): boolean {
  return config.accessLog === true && (accessLogOf(log) !== null || log.isLevelEnabled('info'));
}

/** `times` and `total` in ms; a time that did not happen (no member) is 0. */
export function logConnection(log: Logger, line: AccessEntry, times: AccessTimes, total: number): void {
  writeAccessLine(log, line, times, total, 'connection');
}

/**
 * One access log line (an http request's or a connection's): in the logs.access format when
 * there is one, else an info line `msg` of the process log with every field.
 */
export function writeAccessLine(log: Logger, line: AccessEntry, times: AccessTimes, total: number, msg: string): void {
  const access = accessLogOf(log);
  if (access !== null) {
    access.write(line, times, total);
    return;
  }
  log.info({
    ...line,
    queue: ms(times.queue),
    connect: ms(times.connect),
    firstByte: ms(times.firstByte),
    total: ms(total),
  }, msg);
}

// The contract of every monitor type: run one check against one target and say, in words,
// why it failed. The scheduler owns timing (interval, timeout, rise/fall); a monitor only
// checks once.

import type { MonitorConfig } from '../config/health-types.ts';

export interface CheckTarget {
  /** the member's host as configured (a name or an IP literal): Host headers, SNI, SIP URIs */
  host: string;
  /** the address to check */
  ip: string;
  /** the port to check (the monitor's port, or the member's) */
  port: number;
}

export interface CheckResult {
  up: boolean;
  /** why, in words: 'connection refused', 'status 503', 'body did not match /OK/', 'SIP 486 Busy Here' */
  reason: string;
}

export interface Monitor {
  /**
   * Checks once. When `signal` aborts (the scheduler's timeout, or shutdown), the check must
   * close every socket, timer and child process it opened and settle promptly; what it then
   * returns is ignored (the scheduler records `timeout after N ms`). It should never reject:
   * every failure is a result with a reason. (If it throws or rejects all the same, the scheduler
   * records a failed check `monitor error: <message>`, logs it, and keeps the schedule.)
   */
  run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult>;
  /**
   * True for a monitor whose pass is silence until the timeout (udp `expect: no-unreachable`):
   * the scheduler then takes the result run() returns after the abort instead of `timeout`.
   */
  readonly passesOnTimeout?: boolean;
  /** Releases what the monitor keeps between checks (a shared raw socket, say); optional. */
  close?(): void;
}

export type MonitorFactory<C extends MonitorConfig = MonitorConfig> = (config: C) => Monitor;

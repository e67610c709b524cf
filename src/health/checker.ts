// A checker: one monitor checking one address, on its own schedule. It keeps the monitor's
// verdict after rise/fall and the last result in words, and tells its subscribers (the members
// that use it) after every check. Identical monitors on one address share a checker.

import type { MonitorConfig } from '../config/health-types.ts';
import type { Logger } from '../log.ts';
import type { CheckView, Health } from '../runtime/events.ts';
import type { CheckTarget, CheckResult, Monitor } from './monitor.ts';

/** How much each interval is stretched or shrunk at random, so checks do not fall into step. */
const JITTER = 0.1;
/** How long a monitor may take to settle after its timeout aborted it before it is given up on. */
export const STALL_GRACE = 1_000;

export type CheckListener = (checker: Checker) => void;

export class Checker {
  readonly config: MonitorConfig;
  readonly target: CheckTarget;
  readonly view: CheckView;
  /** checks run so far */
  runs = 0;

  readonly #monitor: Monitor;
  readonly #log: Logger | null;
  readonly #listeners = new Set<CheckListener>();
  #passes = 0;
  #failures = 0;
  #timer: NodeJS.Timeout | null = null;
  #inFlight: AbortController | null = null;
  #closed = false;

  constructor(config: MonitorConfig, target: CheckTarget, monitor: Monitor, log: Logger | null = null) {
    this.config = config;
    this.target = target;
    this.#monitor = monitor;
    this.#log = log;
    const now = Date.now();
    this.view = { type: config.type, state: 'checking', up: false, reason: 'not checked yet', latency: 0, at: 0, since: now };
  }

  get state(): Health {
    return this.view.state;
  }

  subscribe(listener: CheckListener): void {
    this.#listeners.add(listener);
  }

  unsubscribe(listener: CheckListener): void {
    this.#listeners.delete(listener);
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  /** Starts checking after a random share of the fast interval (checking is a state in change), so a thousand checkers spread out. */
  start(): void {
    this.#schedule(Math.random() * this.config.fastInterval);
  }

  /** Stops the schedule and aborts a check in flight. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#inFlight?.abort();
    this.#monitor.close?.();
  }

  #schedule(delay: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(this.#run, delay);
  }

  #run = async (): Promise<void> => {
    this.#timer = null;
    const { timeout } = this.config;
    const controller = new AbortController();
    this.#inFlight = controller;
    const timer = setTimeout(() => controller.abort(), timeout);
    const started = performance.now();
    // a monitor that throws (at once or later) instead of giving a result failed this check; one
    // that does not settle after its abort is given up on. Either way the schedule goes on.
    let result: CheckResult;
    let problem: string | null = null;
    let stall: NodeJS.Timeout | undefined;
    try {
      const check = this.#monitor.run(this.target, controller.signal);
      const stalled = new Promise<null>((resolve) => (stall = setTimeout(resolve, timeout + STALL_GRACE, null)));
      const settled = await Promise.race([check, stalled]);
      if (settled === null) {
        problem = `monitor did not stop within ${STALL_GRACE} ms of its timeout`;
        void Promise.resolve(check).catch(() => {}); // what it ends with, if ever, is ignored
      } else if (typeof settled?.up !== 'boolean' || typeof settled.reason !== 'string') {
        problem = 'monitor error: no result';
      }
      result = problem === null ? settled! : { up: false, reason: problem };
    } catch (err) {
      problem = `monitor error: ${err instanceof Error ? err.message : String(err)}`;
      result = { up: false, reason: problem };
    }
    clearTimeout(stall);
    const latency = performance.now() - started;
    clearTimeout(timer);
    if (problem !== null) controller.abort(); // let a monitor that failed half way release what it opened
    this.#inFlight = null;
    if (this.#closed) return;
    if (problem !== null) {
      const { host, ip, port } = this.target;
      this.#log?.warn({ monitor: this.config.type, host, address: ip, port, reason: problem }, 'monitor error');
    }
    const timedOut = problem === null && controller.signal.aborted && this.#monitor.passesOnTimeout !== true;
    this.#record(timedOut ? false : result.up, timedOut ? `timeout after ${timeout} ms` : result.reason, latency);
    this.#schedule(this.#nextDelay());
  };

  #record(up: boolean, reason: string, latency: number): void {
    this.runs++;
    const view = this.view;
    view.up = up;
    view.reason = reason;
    view.latency = Math.round(latency * 1000) / 1000;
    view.at = Date.now();
    if (up) {
      this.#passes++;
      this.#failures = 0;
    } else {
      this.#failures++;
      this.#passes = 0;
    }
    const next = this.#verdict(view.state);
    if (next !== view.state) {
      view.state = next;
      view.since = view.at;
    }
    for (const listener of this.#listeners) {
      // one subscriber's bug must not stop the others or the schedule (this runs in a timer)
      try {
        listener(this);
      } catch (err) {
        this.#log?.error({ monitor: this.config.type, address: this.target.ip, port: this.target.port, err }, 'health listener failed');
      }
    }
  }

  /** The first result decides a checking monitor; after that rise and fall apply. */
  #verdict(current: Health): Health {
    if (current === 'checking') return this.#passes > 0 ? 'up' : 'down';
    if (current === 'up' && this.#failures >= this.config.fall) return 'down';
    if (current === 'down' && this.#passes >= this.config.rise) return 'up';
    return current;
  }

  /** While the last result disagrees with the verdict the member is changing state: check sooner. */
  #nextDelay(): number {
    const changing = (this.view.state === 'up') !== this.view.up;
    const base = changing ? this.config.fastInterval : this.config.interval;
    return base * (1 - JITTER + 2 * JITTER * Math.random());
  }
}

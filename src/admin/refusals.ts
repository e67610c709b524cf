// Connections the admin listener turned away or cut off, by why: counted for /metrics and
// logged — the first at once, then at most one line a minute saying how many came since, so a
// flood of slow clients cannot fill the log.

import type { Logger } from '../log.ts';

export const REFUSAL_REASONS = ['limit', 'client-limit', 'evicted', 'timeout'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

const WHY: Record<RefusalReason, string> = {
  limit: 'the admin listener is at max-connections, each with a request being answered',
  'client-limit': 'this client address is at max-connections-per-client',
  evicted: 'the admin listener is at max-connections: its oldest connection without a request being answered was closed to make room',
  timeout: 'the request was not complete at its deadline (5 s for the headers, 10 s in all)',
};

const LOG_EVERY = 60_000;

export class Refusals {
  readonly counts: Record<RefusalReason, number> = { limit: 0, 'client-limit': 0, evicted: 0, timeout: 0 };
  readonly #log: Logger;
  #loggedAt = -Infinity;
  #unlogged = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  add(reason: RefusalReason, client: string | undefined): void {
    this.counts[reason]++;
    const now = performance.now();
    if (now - this.#loggedAt < LOG_EVERY) {
      this.#unlogged++;
      return;
    }
    this.#log.warn({ client: client ?? null, reason: WHY[reason], notLogged: this.#unlogged }, 'admin: connection refused or closed');
    this.#loggedAt = now;
    this.#unlogged = 0;
  }
}

// Rates for the API and the dashboard, as moving averages updated once a second: per member new
// connections, HTTP requests and bytes per second, plus the last minute of per-second connection
// counts for the sparkline; per service new client connections and HTTP requests per second.
// Owned by the admin plane: it starts the tick and stops it on close.

import type { Member } from '../runtime/member.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { DataThreads } from './threads.ts';
import { liveTraffic, memberBytes } from './traffic.ts';

export const TICK_MS = 1_000;
/** Seconds of per-second counts kept for the sparkline. */
export const HISTORY = 60;
/** Time constant of the moving average (s): a step in load shows at 63% after this long. */
const TAU = 3;

export interface Rates {
  connections: number;
  /** HTTP responses per second (0 outside http) */
  requests: number;
  bytesIn: number;
  bytesOut: number;
}

export interface ServiceRates {
  /** client connections (udp: flows) accepted per second */
  connections: number;
  /** HTTP responses sent to clients per second (0 outside http) */
  requests: number;
}

interface Track {
  total: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  rates: Rates;
  /** ring of per-second new connection counts; `next` is the oldest slot */
  history: number[];
  next: number;
}

interface ServiceTrack {
  total: number;
  requests: number;
  rates: ServiceRates;
}

const ZERO: Rates = { connections: 0, requests: 0, bytesIn: 0, bytesOut: 0 };
const ZERO_SERVICE: ServiceRates = { connections: 0, requests: 0 };

export class RateEstimator {
  readonly #runtime: Runtime;
  readonly #tracks = new Map<Member, Track>();
  readonly #services = new Map<string, ServiceTrack>();
  #last = performance.now();
  #timer: NodeJS.Timeout | null = null;
  readonly #onTick: (() => void) | null;
  readonly #threads: () => DataThreads | null;
  /** a tick is waiting for the worker threads' counters */
  #refreshing = false;
  #closed = false;

  /**
   * `onTick` runs after each update (the dashboard's snapshot rides on it). `threads`: the
   * worker threads, whose counters each tick brings in first (null: this thread counts all).
   */
  constructor(runtime: Runtime, onTick: (() => void) | null = null, threads: () => DataThreads | null = () => null) {
    this.#runtime = runtime;
    this.#onTick = onTick;
    this.#threads = threads;
  }

  start(): void {
    this.#last = performance.now();
    this.#sample(0);
    this.#timer = setInterval(this.tick, TICK_MS);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  rates(member: Member): Rates {
    return this.#tracks.get(member)?.rates ?? ZERO;
  }

  serviceRates(service: string): ServiceRates {
    return this.#services.get(service)?.rates ?? ZERO_SERVICE;
  }

  /** New connections in each of the last HISTORY seconds, oldest first. */
  history(member: Member): number[] {
    const t = this.#tracks.get(member);
    if (t === undefined) return new Array<number>(HISTORY).fill(0);
    return [...t.history.slice(t.next), ...t.history.slice(0, t.next)];
  }

  /** One update; public so tests can step it without waiting (with worker threads, once their counters came). */
  tick = (): void => {
    const threads = this.#threads();
    if (threads === null) {
      this.#step();
      return;
    }
    // a worker slow to answer: the next tick does not pile another question on it
    if (this.#refreshing) return;
    this.#refreshing = true;
    void threads.refresh().then(() => {
      this.#refreshing = false;
      if (!this.#closed) this.#step();
    });
  };

  #step(): void {
    const now = performance.now();
    const seconds = (now - this.#last) / 1000;
    this.#last = now;
    if (seconds > 0) this.#sample(seconds);
    this.#onTick?.();
  }

  #sample(seconds: number): void {
    const live = liveTraffic(this.#runtime, this.#threads()).bytes;
    const alpha = 1 - Math.exp(-seconds / TAU);
    const requests = requestTotals(this.#runtime);
    const seen = new Set<Member>();
    for (const pool of this.#runtime.pools.values()) {
      for (const member of pool.members) {
        seen.add(member);
        const bytes = memberBytes(member, live);
        const answered = requests.members.get(member.poolName)?.get(member.id) ?? 0;
        const t = this.#tracks.get(member);
        if (t === undefined || seconds === 0) {
          this.#tracks.set(member, { total: member.total, requests: answered, bytesIn: bytes.in, bytesOut: bytes.out, rates: { ...ZERO }, history: new Array<number>(HISTORY).fill(0), next: 0 });
          continue;
        }
        const added = member.total - t.total;
        const r = t.rates;
        r.connections += alpha * (added / seconds - r.connections);
        r.requests += alpha * ((answered - t.requests) / seconds - r.requests);
        t.requests = answered;
        r.bytesIn += alpha * ((bytes.in - t.bytesIn) / seconds - r.bytesIn);
        r.bytesOut += alpha * ((bytes.out - t.bytesOut) / seconds - r.bytesOut);
        t.history[t.next] = added;
        t.next = (t.next + 1) % HISTORY;
        t.total = member.total;
        t.bytesIn = bytes.in;
        t.bytesOut = bytes.out;
      }
    }
    // members removed by a reload
    for (const member of this.#tracks.keys()) if (!seen.has(member)) this.#tracks.delete(member);
    const accepted = this.#runtime.connections.totals();
    for (const name of this.#runtime.services.keys()) {
      const total = accepted.get(name) ?? 0;
      const answered = requests.services.get(name) ?? 0;
      const t = this.#services.get(name);
      if (t === undefined || seconds === 0) {
        this.#services.set(name, { total, requests: answered, rates: { ...ZERO_SERVICE } });
        continue;
      }
      t.rates.connections += alpha * ((total - t.total) / seconds - t.rates.connections);
      t.rates.requests += alpha * ((answered - t.requests) / seconds - t.rates.requests);
      t.total = total;
      t.requests = answered;
    }
    for (const name of this.#services.keys()) if (!this.#runtime.services.has(name)) this.#services.delete(name);
  }
}

/** HTTP responses so far by service, and by member (pool, then id): one pass over the counts. */
export function requestTotals(runtime: Runtime): { services: Map<string, number>; members: Map<string, Map<string, number>> } {
  const services = new Map<string, number>();
  const members = new Map<string, Map<string, number>>();
  for (const c of runtime.requests.list()) {
    services.set(c.service, (services.get(c.service) ?? 0) + c.count);
    if (c.pool === null || c.member === null) continue;
    let pool = members.get(c.pool);
    if (pool === undefined) members.set(c.pool, (pool = new Map()));
    pool.set(c.member, (pool.get(c.member) ?? 0) + c.count);
  }
  return { services, members };
}

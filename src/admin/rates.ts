// Per-member rates for the API and the dashboard: new connections and bytes per second, as
// moving averages updated once a second, plus the last minute of per-second connection counts
// for the sparkline. Owned by the admin plane: it starts the tick and stops it on close.

import type { Member } from '../runtime/member.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { liveTraffic, memberBytes } from './traffic.ts';

export const TICK_MS = 1_000;
/** Seconds of per-second counts kept for the sparkline. */
export const HISTORY = 60;
/** Time constant of the moving average (s): a step in load shows at 63% after this long. */
const TAU = 3;

export interface Rates {
  connections: number;
  bytesIn: number;
  bytesOut: number;
}

interface Track {
  total: number;
  bytesIn: number;
  bytesOut: number;
  rates: Rates;
  /** ring of per-second new connection counts; `next` is the oldest slot */
  history: number[];
  next: number;
}

const ZERO: Rates = { connections: 0, bytesIn: 0, bytesOut: 0 };

export class RateEstimator {
  readonly #runtime: Runtime;
  readonly #tracks = new Map<Member, Track>();
  #last = performance.now();
  #timer: NodeJS.Timeout | null = null;
  readonly #onTick: (() => void) | null;

  /** `onTick` runs after each update (the dashboard's snapshot rides on it). */
  constructor(runtime: Runtime, onTick: (() => void) | null = null) {
    this.#runtime = runtime;
    this.#onTick = onTick;
  }

  start(): void {
    this.#last = performance.now();
    this.#sample(0);
    this.#timer = setInterval(this.tick, TICK_MS);
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  rates(member: Member): Rates {
    return this.#tracks.get(member)?.rates ?? ZERO;
  }

  /** New connections in each of the last HISTORY seconds, oldest first. */
  history(member: Member): number[] {
    const t = this.#tracks.get(member);
    if (t === undefined) return new Array<number>(HISTORY).fill(0);
    return [...t.history.slice(t.next), ...t.history.slice(0, t.next)];
  }

  /** One update; public so tests can step it without waiting. */
  tick = (): void => {
    const now = performance.now();
    const seconds = (now - this.#last) / 1000;
    this.#last = now;
    if (seconds > 0) this.#sample(seconds);
    this.#onTick?.();
  };

  #sample(seconds: number): void {
    const live = liveTraffic(this.#runtime).bytes;
    const alpha = 1 - Math.exp(-seconds / TAU);
    const seen = new Set<Member>();
    for (const pool of this.#runtime.pools.values()) {
      for (const member of pool.members) {
        seen.add(member);
        const bytes = memberBytes(member, live);
        const t = this.#tracks.get(member);
        if (t === undefined || seconds === 0) {
          this.#tracks.set(member, { total: member.total, bytesIn: bytes.in, bytesOut: bytes.out, rates: { ...ZERO }, history: new Array<number>(HISTORY).fill(0), next: 0 });
          continue;
        }
        const added = member.total - t.total;
        const r = t.rates;
        r.connections += alpha * (added / seconds - r.connections);
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
  }
}

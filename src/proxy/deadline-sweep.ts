// The timeouts of many connections kept by one interval timer: each connection holds its
// deadline as a number, and a sweep a few times per shortest timeout looks at every one. A
// connection that comes and goes costs two pointer swaps and a clock read, where a timer of its
// own costs a timer object, a place in Node's timer lists and a clock read each time it is armed,
// cleared or refreshed (bench/README.md, "What bounds new tcp connections").

/** A tenth of the shortest timeout, between 10 ms and 250 ms: deadlines are kept to within 10%. */
export function sweepEvery(shortest: number): number {
  return Math.min(250, Math.max(10, Math.floor(shortest / 10)));
}

/** What a sweep looks at: its links (DeadlineSweep's alone) and what it does at each sweep. */
export interface Swept {
  sweepPrev: Swept | null;
  sweepNext: Swept | null;
  /** in a sweep's list */
  swept: boolean;
  /** At a sweep: `now` is Date.now() (its own deadline passed or not is its to check). */
  sweep(now: number): void;
}

/**
 * An interval timer whose period is asked anew after each tick: a reload may have shortened a
 * timeout, and the sweep follows. Stopped during its own tick, it stays stopped.
 */
export class SweepTimer {
  readonly #every: () => number;
  readonly #tick: () => void;
  #timer: NodeJS.Timeout | null = null;
  #interval = 0;

  constructor(every: () => number, tick: () => void) {
    this.#every = every;
    this.#tick = tick;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#interval = this.#every();
    this.#timer = setInterval(this.#run, this.#interval);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #run = (): void => {
    this.#tick();
    if (this.#timer !== null && this.#every() !== this.#interval) {
      this.stop();
      this.start();
    }
  };
}

/**
 * A list of connections (entries carry their own links) and the interval timer that sweeps
 * them, running only while the list has entries. `every()` says the interval at each start and
 * after each sweep (a reload may have shortened a timeout).
 */
export class DeadlineSweep {
  #first: Swept | null = null;
  #size = 0;
  readonly #timer: SweepTimer;

  constructor(every: () => number) {
    this.#timer = new SweepTimer(every, this.#sweep);
  }

  get size(): number {
    return this.#size;
  }

  add(t: Swept): void {
    if (t.swept) return;
    t.swept = true;
    t.sweepPrev = null;
    t.sweepNext = this.#first;
    if (this.#first !== null) this.#first.sweepPrev = t;
    this.#first = t;
    if (this.#size++ === 0) this.#timer.start();
  }

  delete(t: Swept): void {
    if (!t.swept) return;
    const prev = t.sweepPrev;
    const next = t.sweepNext;
    if (prev === null) this.#first = next;
    else prev.sweepNext = next;
    if (next !== null) next.sweepPrev = prev;
    t.sweepPrev = t.sweepNext = null;
    t.swept = false;
    if (--this.#size === 0) this.#timer.stop();
  }

  #sweep = (): void => {
    const now = Date.now();
    for (let t = this.#first; t !== null;) {
      // (read first: an entry may leave during its own sweep)
      const next = t.sweepNext;
      t.sweep(now);
      t = next;
    }
  };
}

// A kinetic tournament tree: the largest of values that each grow linearly with a clock,
// value_i(now) = base_i + rate_i * now, the lowest order (by default the index) on a tie. Each node keeps the winner of
// its two halves and the clock time at which that could change (when the loser's line crosses
// the winner's); advancing the clock recomputes only the nodes whose time has come. Changing one
// candidate is O(log n). With few candidates (SCAN_LEAVES) it keeps no tree and a tick reads
// every line, which costs less. Smooth weighted round-robin runs on it (weighted-round-robin.ts, through
// grouped-race.ts): every eligible member's current weight grows by its weight per pick.

import { leaves } from './tournament.ts';

/** Rebase the clock to 0 past this, so bases stay small enough to add exactly. */
const REBASE_AT = 2 ** 24;

/**
 * Up to this many leaves a tick reads every line instead of keeping the tree: a handful of
 * multiply-adds cost less than settling the due nodes and matching a changed line's path (a
 * division each), and the grouped race has a leaf per weight, which pools have few of.
 */
export const SCAN_LEAVES = 16;

export class KineticTournament {
  #size = 1;
  #count = 0;
  /** winner per node (-1 none); root 1, leaves at size + i */
  #win = new Int32Array(2).fill(-1);
  /** per node: the earliest clock at which its own winner may change, or at which one below it may */
  #due = new Float64Array(2).fill(Infinity);
  #base = new Float64Array(0);
  #rate = new Float64Array(0);
  /** per candidate: who wins a tie (the lower); its index unless setLine() says otherwise */
  #order = new Int32Array(0);
  now = 0;
  /** few leaves: no tree, the winner found by reading every line (SCAN_LEAVES) */
  #scan = false;
  /** the winner, in scan mode; `#stale` once a line changed since it was found */
  #best = -1;
  #stale = false;
  readonly #rebaseAt: number;

  /** `rebaseAt`: tests make it small to see the rebase happen */
  constructor(rebaseAt = REBASE_AT) {
    this.#rebaseAt = rebaseAt;
  }

  /** Empties it for `count` candidates at clock 0; put() then build() fill it. */
  reset(count: number): void {
    const size = leaves(count);
    this.#size = size;
    this.#count = count;
    this.#win = new Int32Array(2 * size).fill(-1);
    this.#due = new Float64Array(2 * size).fill(Infinity);
    this.#base = new Float64Array(count);
    this.#rate = new Float64Array(count);
    this.#order = Int32Array.from({ length: count }, (_, i) => i);
    this.now = 0;
    this.#scan = size <= SCAN_LEAVES;
    this.#stale = true;
  }

  /** Candidate i with value `value` now, growing by `rate` per tick; in the race when `isIn`. build() follows. */
  put(i: number, isIn: boolean, value: number, rate: number): void {
    this.#rate[i] = rate;
    this.#base[i] = isIn ? value - rate * this.now : value;
    this.#win[this.#size + i] = isIn ? i : -1;
  }

  /** Candidate i's line in clock terms (value now = base + rate × now) and its tie order, O(log n). */
  setLine(i: number, isIn: boolean, base: number, order: number): void {
    this.#base[i] = base;
    this.#order[i] = order;
    this.#win[this.#size + i] = isIn ? i : -1;
    this.#up(i);
  }

  build(): void {
    this.#stale = true;
    if (this.#scan) return;
    for (let p = this.#size - 1; p >= 1; p--) this.#match(p);
  }

  has(i: number): boolean {
    return this.#win[this.#size + i] >= 0;
  }

  /** Candidate i's value now (while out of the race, the value it left with). */
  value(i: number): number {
    return this.has(i) ? this.#base[i] + this.#rate[i] * this.now : this.#base[i];
  }

  /** Takes i out of the race with the value it had at clock `at` (now, or the tick before): it stops growing. */
  leave(i: number, at: number): void {
    if (!this.has(i)) return;
    this.#base[i] += this.#rate[i] * at;
    this.#win[this.#size + i] = -1;
    this.#up(i);
  }

  /** Puts i back in the race with the value it left with: it grows again from now on. */
  join(i: number): void {
    if (this.has(i)) return;
    this.#base[i] -= this.#rate[i] * this.now;
    this.#win[this.#size + i] = i;
    this.#up(i);
  }

  /** Lowers candidate i's value by `by` (the winner gives back the total). */
  lower(i: number, by: number): void {
    this.#base[i] -= by;
    this.#up(i);
  }

  /** One tick: every candidate in the race grows by its rate. Returns the winner now, -1 for none. */
  tick(): number {
    if (this.now >= this.#rebaseAt) this.#rebase();
    this.now++;
    if (this.#scan) return this.#read();
    this.#settle(1);
    return this.#win[1];
  }

  get winner(): number {
    if (!this.#scan) return this.#win[1];
    return this.#stale ? this.#read() : this.#best;
  }

  /** Scan mode: the largest value now, the first in order on a tie, by reading every line. */
  #read(): number {
    const win = this.#win;
    const base = this.#base;
    const rate = this.#rate;
    const order = this.#order;
    const now = this.now;
    const size = this.#size;
    let best = -1;
    let bestValue = 0;
    for (let i = 0; i < this.#count; i++) {
      if (win[size + i] < 0) continue;
      const value = base[i] + rate[i] * now;
      if (best < 0 || value > bestValue || (value === bestValue && order[i] < order[best])) {
        best = i;
        bestValue = value;
      }
    }
    this.#best = best;
    this.#stale = false;
    return best;
  }

  #rebase(): void {
    for (let i = 0; i < this.#count; i++) if (this.has(i)) this.#base[i] += this.#rate[i] * this.now;
    this.now = 0;
    this.build();
  }

  /** Recomputes the nodes under p whose time has come. */
  #settle(p: number): void {
    if (this.#due[p] > this.now || p >= this.#size) return;
    this.#settle(2 * p);
    this.#settle(2 * p + 1);
    this.#match(p);
  }

  /** Recomputes the nodes above candidate i's leaf, up to the first that stays as it was and whose winner is not i. */
  #up(i: number): void {
    if (this.#scan) {
      this.#stale = true;
      return;
    }
    const win = this.#win;
    const due = this.#due;
    for (let p = (this.#size + i) >> 1; p >= 1; p >>= 1) {
      const was = win[p];
      const wasDue = due[p];
      this.#match(p);
      if (win[p] === was && due[p] === wasDue && was !== i) return;
    }
  }

  /** Node p's winner now, and when its loser may overtake it. */
  #match(p: number): void {
    const win = this.#win;
    const a = win[2 * p];
    const b = win[2 * p + 1];
    let fail = Infinity;
    if (a < 0 || b < 0) {
      win[p] = a < 0 ? b : a;
    } else {
      const base = this.#base;
      const rate = this.#rate;
      const now = this.now;
      // b (the higher index) wins when greater, or equal and first in order
      const vb = base[b] + rate[b] * now;
      const va = base[a] + rate[a] * now;
      const bWins = vb > va || (vb === va && this.#order[b] < this.#order[a]);
      const winner = bWins ? b : a;
      const loser = bWins ? a : b;
      win[p] = winner;
      const gaining = rate[loser] - rate[winner];
      if (gaining > 0) {
        // the lines cross at (base[winner] - base[loser]) / gaining; one tick early keeps
        // rounding from making it late (an early look only finds the same winner, and looks
        // again the next tick)
        fail = Math.max(now + 1, Math.floor((base[winner] - base[loser]) / gaining) - 1);
      }
    }
    // leaves are never due
    this.#due[p] = Math.min(fail, this.#due[2 * p], this.#due[2 * p + 1]);
  }
}

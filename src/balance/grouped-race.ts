// The race of smooth weighted round-robin (weighted-round-robin.ts): the largest of values that
// each grow by their candidate's rate (its weight) per tick, the lowest index on a tie, with the
// same operations as a KineticTournament over the candidates — but candidates of one rate are
// grouped. Within a group every value grows alike, so its order is that of the bases alone and
// only changes when one is lowered, leaves or joins: a plain tournament (tournament.ts) keeps
// each group's leader, and the kinetic tournament races only the leaders, one line per group.
// Pools have few distinct weights, so a tick settles a tree of a handful of lines instead of
// one of every member (13 node updates a pick at 1,000 members, and growing with the pool).

import { KineticTournament } from './kinetic-tournament.ts';
import { MaxTournament } from './tournament.ts';

/** Rebase the clock to 0 past this, so bases stay small enough to add exactly. */
const REBASE_AT = 2 ** 24;

export class GroupedRace {
  /** the leaders' race: leaf g is group g's leader; it never rebases on its own (this does, for all) */
  readonly #race = new KineticTournament(Infinity);
  /** per group: its members in the race, keyed by base (the largest wins, the lowest index on a tie) */
  #groups: MaxTournament[] = [];
  /** per group: its candidates' indices, ascending (a tournament's local index -> candidate index) */
  #members: Int32Array[] = [];
  /** per candidate: its group, and its index within the group */
  #group = new Int32Array(0);
  #local = new Int32Array(0);
  /** per candidate: in the race, value now = base + rate × now; out of it, the value it left with */
  #base = new Float64Array(0);
  #rate = new Float64Array(0);
  #in = new Uint8Array(0);
  readonly #rebaseAt: number;

  /** `rebaseAt`: tests make it small to see the rebase happen */
  constructor(rebaseAt = REBASE_AT) {
    this.#rebaseAt = rebaseAt;
  }

  get now(): number {
    return this.#race.now;
  }

  get winner(): number {
    const g = this.#race.winner;
    return g < 0 ? -1 : this.#leader(g);
  }

  /** Empties it for `count` candidates at clock 0; put() then build() fill it. */
  reset(count: number): void {
    this.#group = new Int32Array(count);
    this.#local = new Int32Array(count);
    this.#base = new Float64Array(count);
    this.#rate = new Float64Array(count);
    this.#in = new Uint8Array(count);
    this.#groups = [];
    this.#members = [];
    this.#race.reset(0);
  }

  /** Candidate i with value `value` now, growing by `rate` per tick; in the race when `isIn`. build() follows. */
  put(i: number, isIn: boolean, value: number, rate: number): void {
    this.#rate[i] = rate;
    this.#base[i] = isIn ? value - rate * this.now : value;
    this.#in[i] = isIn ? 1 : 0;
  }

  /** Groups the candidates by rate and fills the trees: O(n log n) at worst. */
  build(): void {
    const count = this.#rate.length;
    const groupOf = new Map<number, number>();
    const lists: number[][] = [];
    for (let i = 0; i < count; i++) {
      let g = groupOf.get(this.#rate[i]);
      if (g === undefined) {
        g = lists.length;
        groupOf.set(this.#rate[i], g);
        lists.push([]);
      }
      this.#group[i] = g;
      this.#local[i] = lists[g].length;
      lists[g].push(i);
    }
    this.#members = lists.map((list) => Int32Array.from(list));
    this.#groups = lists.map((list) => {
      const tree = new MaxTournament();
      tree.reset(list.length);
      for (let k = 0; k < list.length; k++) tree.put(k, this.#in[list[k]] === 1, this.#base[list[k]]);
      tree.build();
      return tree;
    });
    const now = this.now;
    this.#race.reset(lists.length);
    this.#race.now = now;
    for (let g = 0; g < lists.length; g++) {
      this.#race.put(g, false, 0, this.#rate[lists[g][0]]);
      this.#setLeader(g);
    }
  }

  has(i: number): boolean {
    return this.#in[i] === 1;
  }

  /** Candidate i's value now (while out of the race, the value it left with). */
  value(i: number): number {
    return this.has(i) ? this.#base[i] + this.#rate[i] * this.now : this.#base[i];
  }

  /** Takes i out of the race with the value it had at clock `at` (now, or the tick before): it stops growing. */
  leave(i: number, at: number): void {
    if (!this.has(i)) return;
    this.#base[i] += this.#rate[i] * at;
    this.#in[i] = 0;
    this.#moved(i);
  }

  /** Puts i back in the race with the value it left with: it grows again from now on. */
  join(i: number): void {
    if (this.has(i)) return;
    this.#base[i] -= this.#rate[i] * this.now;
    this.#in[i] = 1;
    this.#moved(i);
  }

  /** Lowers candidate i's value by `by` (the winner gives back the total). */
  lower(i: number, by: number): void {
    this.#base[i] -= by;
    this.#moved(i);
  }

  /** One tick: every candidate in the race grows by its rate. Returns the winner now, -1 for none. */
  tick(): number {
    if (this.now >= this.#rebaseAt) this.#rebase();
    const g = this.#race.tick();
    return g < 0 ? -1 : this.#leader(g);
  }

  /** Candidate i's base or membership changed: its group's tree, then the group's line. */
  #moved(i: number): void {
    const g = this.#group[i];
    this.#groups[g].set(this.#local[i], this.#in[i] === 1, this.#base[i]);
    this.#setLeader(g);
  }

  #leader(g: number): number {
    const k = this.#groups[g].best;
    return k < 0 ? -1 : this.#members[g][k];
  }

  /** Group g's line in the leaders' race: its leader's base, and its index for ties. */
  #setLeader(g: number): void {
    const leader = this.#leader(g);
    this.#race.setLine(g, leader >= 0, leader < 0 ? 0 : this.#base[leader], leader);
  }

  /** Moves the clock back to 0: every base in the race takes the growth so far. */
  #rebase(): void {
    const now = this.now;
    for (let i = 0; i < this.#base.length; i++) if (this.#in[i] === 1) this.#base[i] += this.#rate[i] * now;
    this.#race.now = 0;
    this.build();
  }
}

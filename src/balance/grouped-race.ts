// The race of smooth weighted round-robin (weighted-round-robin.ts): the largest of values that
// each grow by their candidate's rate (its weight) per tick, the lowest index on a tie, with the
// same operations as a KineticTournament over the candidates — but candidates of one rate are
// grouped. Within a group every value grows alike, so its order is that of the bases alone and
// only changes when one is lowered, leaves or joins: a plain tournament (tournament.ts) keeps
// each group's leader, and the kinetic tournament races only the leaders, one line per group.
// Pools have few distinct weights, so a tick settles a tree of a handful of lines instead of
// one of every member (13 node updates a pick at 1,000 members, and growing with the pool).
//
// A candidate's rate may change (setRate: a weight change, slow start): it keeps its value now,
// leaves its group's tree (its slot stays there, dead, until the group is compacted) and takes a
// slot in the group of its new rate, made on a free leaf of the leaders' race if there is none.
// Groups and leaves are sized with room to spare, so a change is O(log n) amortised.

import { KineticTournament } from './kinetic-tournament.ts';
import { leaves, MaxTournament } from './tournament.ts';

/** Rebase the clock to 0 past this, so bases stay small enough to add exactly. */
const REBASE_AT = 2 ** 24;

export class GroupedRace {
  /** the leaders' race: leaf g is group g's leader; it never rebases on its own (this does, for all) */
  readonly #race = new KineticTournament(Infinity);
  /** per group (a leaf of the race): its members in the race, keyed by base; null for a free leaf */
  #groups: (MaxTournament | null)[] = [];
  /** per group: the candidate in each slot of its tree, -1 for a dead slot */
  #members: Int32Array[] = [];
  /** per group: slots used (live or dead), and its candidates (live slots) */
  #used: number[] = [];
  #live: number[] = [];
  /** per group: the highest index given a slot since it was made (-1: none) */
  #top: number[] = [];
  /** per group: its rate; and the group of each rate that has one */
  #groupRate: number[] = [];
  readonly #groupOf = new Map<number, number>();
  /** leaves of the race no group holds */
  #free: number[] = [];
  /** the fewest leaves build() gives the race: doubled each time new weights found none spare */
  #minLeaves = 2;
  /** per candidate: its group, and its slot within the group */
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
    this.#clearGroups();
    this.#groupOf.clear();
    this.#minLeaves = 2;
    this.#race.reset(0);
  }

  /** Candidate i with value `value` now, growing by `rate` per tick; in the race when `isIn`. build() follows. */
  put(i: number, isIn: boolean, value: number, rate: number): void {
    this.#rate[i] = rate;
    this.#base[i] = isIn ? value - rate * this.now : value;
    this.#in[i] = isIn ? 1 : 0;
  }

  /** Groups the candidates by rate and fills the trees: O(n). */
  build(): void {
    const count = this.#rate.length;
    const groupOf = this.#groupOf;
    groupOf.clear();
    const lists: number[][] = [];
    for (let i = 0; i < count; i++) {
      let g = groupOf.get(this.#rate[i]);
      if (g === undefined) {
        g = lists.length;
        groupOf.set(this.#rate[i], g);
        lists.push([]);
      }
      lists[g].push(i);
    }
    // a spare leaf at least, and those the power of two leaves over (a deeper race costs every pick)
    const leavesNow = leaves(Math.max(this.#minLeaves, lists.length + 1));
    this.#clearGroups();
    for (let g = 0; g < leavesNow; g++) {
      this.#groups.push(null);
      this.#members.push(NO_SLOTS);
      this.#used.push(0);
      this.#live.push(0);
      this.#top.push(-1);
      this.#groupRate.push(0);
    }
    for (let g = leavesNow - 1; g >= lists.length; g--) this.#free.push(g);
    const now = this.now;
    this.#race.reset(leavesNow);
    this.#race.now = now;
    for (let g = 0; g < lists.length; g++) {
      const rate = this.#rate[lists[g][0]];
      this.#groupRate[g] = rate;
      this.#race.put(g, false, 0, rate);
      this.#fill(g, lists[g], slotsFor(lists[g].length));
      this.#setLeader(g);
    }
  }

  /** No groups: every per-group array empty, no spare leaf. */
  #clearGroups(): void {
    this.#groups = [];
    this.#members = [];
    this.#used = [];
    this.#live = [];
    this.#top = [];
    this.#groupRate = [];
    this.#free = [];
  }

  has(i: number): boolean {
    return this.#in[i] === 1;
  }

  /** Candidate i's rate. */
  rate(i: number): number {
    return this.#rate[i];
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
    const g = this.#group[i];
    const tree = this.#groups[g]!;
    // a pick lowers the winner, its group's leader
    if (tree.best === this.#local[i]) {
      tree.lowerBest(this.#base[i]);
      this.#setLeader(g);
    } else this.#moved(i);
  }

  /** Candidate i grows by `rate` per tick from now on, from the value it has now: O(log n) amortised. */
  setRate(i: number, rate: number): void {
    if (this.#rate[i] === rate) return;
    const value = this.value(i);
    this.#detach(i);
    this.#rate[i] = rate;
    this.#base[i] = this.has(i) ? value - rate * this.now : value;
    this.#attach(i);
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
    this.#groups[g]!.set(this.#local[i], this.#in[i] === 1, this.#base[i], i);
    this.#setLeader(g);
  }

  /** Empties candidate i's slot in its group; a group left with none frees its leaf of the race. */
  #detach(i: number): void {
    const g = this.#group[i];
    const slot = this.#local[i];
    this.#groups[g]!.set(slot, false, 0, i);
    this.#members[g][slot] = -1;
    if (--this.#live[g] > 0) {
      this.#setLeader(g);
      return;
    }
    this.#groupOf.delete(this.#groupRate[g]);
    this.#groups[g] = null;
    this.#members[g] = NO_SLOTS;
    this.#used[g] = 0;
    this.#race.setLine(g, false, 0, 0);
    this.#free.push(g);
  }

  /** Gives candidate i a slot in the group of its rate (made if need be). */
  #attach(i: number): void {
    const rate = this.#rate[i];
    let g = this.#groupOf.get(rate);
    if (g === undefined) {
      const leaf = this.#free.pop();
      // every leaf holds a group: regroup everything with room for as many again
      if (leaf === undefined) {
        this.#minLeaves = 2 * this.#groups.length;
        return this.build();
      }
      g = leaf;
      this.#groupOf.set(rate, g);
      this.#groupRate[g] = rate;
      this.#race.put(g, false, 0, rate);
      this.#fill(g, [], slotsFor(1));
    }
    // full: its live candidates in a tree of twice their number (dead slots dropped)
    if (this.#used[g] === this.#members[g].length) this.#fill(g, this.#alive(g), slotsFor(this.#live[g] + 1));
    const slot = this.#used[g]++;
    this.#live[g]++;
    // a lower index after a higher one: ties must read the orders until the group is made again
    if (i < this.#top[g]) this.#groups[g]!.ordered = false;
    else this.#top[g] = i;
    this.#members[g][slot] = i;
    this.#group[i] = g;
    this.#local[i] = slot;
    this.#moved(i);
  }

  /** Group g's candidates, by index. */
  #alive(g: number): number[] {
    const out: number[] = [];
    const members = this.#members[g];
    for (let k = 0; k < this.#used[g]; k++) if (members[k] >= 0) out.push(members[k]);
    return this.#groups[g]!.ordered ? out : out.sort((a, b) => a - b);
  }

  /** Group g's tree made afresh with `list` (ascending) in its first slots and room for `slots`. */
  #fill(g: number, list: readonly number[], slots: number): void {
    const tree = new MaxTournament();
    tree.reset(slots);
    const members = new Int32Array(tree.capacity).fill(-1);
    for (let k = 0; k < list.length; k++) {
      const i = list[k];
      members[k] = i;
      this.#group[i] = g;
      this.#local[i] = k;
      tree.put(k, this.#in[i] === 1, this.#base[i], i);
    }
    tree.build();
    this.#groups[g] = tree;
    this.#members[g] = members;
    this.#used[g] = list.length;
    this.#live[g] = list.length;
    this.#top[g] = list.length > 0 ? list[list.length - 1] : -1;
  }

  #leader(g: number): number {
    const k = this.#groups[g]!.best;
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

const NO_SLOTS = new Int32Array(0);

/** Slots for a group of `count`: as many again to fill before it is remade. */
function slotsFor(count: number): number {
  return Math.max(2, 2 * count);
}

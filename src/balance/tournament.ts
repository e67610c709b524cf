// A tournament tree over candidate indices: each node holds the better of its two halves by the
// key num / den (lower is better, compared by cross-multiplication, exactly as the scanning
// balancers compare), the lower index on a tie. Changing one key is O(log n), and so is the best
// in rotation from a start index — the scanning balancers' "ties take turns" order.

export class Tournament {
  /** leaves: a power of two, at least the candidate count */
  #size = 1;
  /** winner (candidate index) per node, -1 for none; node 1 is the root, leaves at size + i */
  #win = new Int32Array(2).fill(-1);
  #count = 0;
  #num = new Float64Array(0);
  #den = new Float64Array(0);

  /** Empties the tree for `count` candidates: none is in it until put() and build(). */
  reset(count: number): void {
    const size = leaves(count);
    this.#size = size;
    this.#count = count;
    this.#win = new Int32Array(2 * size).fill(-1);
    this.#num = new Float64Array(count);
    this.#den = new Float64Array(count);
  }

  /** Sets candidate i's key (in = may win) without updating the nodes above: build() follows. */
  put(i: number, isIn: boolean, num: number, den: number): void {
    this.#num[i] = num;
    this.#den[i] = den;
    this.#win[this.#size + i] = isIn ? i : -1;
  }

  /** Recomputes every node from the leaves: O(n). */
  build(): void {
    const win = this.#win;
    for (let p = this.#size - 1; p >= 1; p--) win[p] = this.#better(win[2 * p], win[2 * p + 1]);
  }

  /** Sets candidate i's key and updates its path: O(log n). False when nothing changed. */
  set(i: number, isIn: boolean, num: number, den: number): boolean {
    const wasIn = this.#win[this.#size + i] >= 0;
    if (wasIn === isIn && this.#num[i] === num && this.#den[i] === den) return false;
    this.put(i, isIn, num, den);
    // out before and after: no node above holds it
    if (wasIn || isIn) this.#up(i);
    return true;
  }

  has(i: number): boolean {
    return this.#win[this.#size + i] >= 0;
  }

  /** Takes i out for a moment (a skipped candidate) keeping its key; restore() puts it back. */
  drop(i: number): void {
    this.#win[this.#size + i] = -1;
    this.#up(i);
  }

  restore(i: number): void {
    this.#win[this.#size + i] = i;
    this.#up(i);
  }

  num(i: number): number {
    return this.#num[i];
  }

  den(i: number): number {
    return this.#den[i];
  }

  /**
   * The best candidate, ties going to the first met from `start` on, wrapping; -1 for none. The
   * root holds the best with the lowest index: from `start` on, it is the answer unless it lies
   * before `start` and one after ties it, so at most one range query is needed, and none when
   * the root's winner is at or past `start`.
   */
  best(start: number): number {
    const w = this.#win[1];
    if (w >= start || w < 0) return w;
    const after = this.#range(start, this.#count);
    // `after` is never better than the root's winner: it ties it or loses
    return after >= 0 && !this.less(w, after) ? after : w;
  }

  /** Whether a's key is strictly lower than b's. */
  less(a: number, b: number): boolean {
    return this.#num[a] * this.#den[b] < this.#num[b] * this.#den[a];
  }

  /** The better of a and b, a on a tie (a comes first); -1 is none. */
  #better(a: number, b: number): number {
    if (a < 0) return b;
    if (b < 0) return a;
    return this.#num[b] * this.#den[a] < this.#num[a] * this.#den[b] ? b : a;
  }

  /** Recomputes the nodes above candidate i's leaf, up to the first whose winner stays the same and is not i. */
  #up(i: number): void {
    const win = this.#win;
    for (let p = (this.#size + i) >> 1; p >= 1; p >>= 1) {
      const was = win[p];
      const now = this.#better(win[2 * p], win[2 * p + 1]);
      // the same winner, another candidate than i: its key did not change, nor anything above
      if (now === was && was !== i) return;
      win[p] = now;
    }
  }

  /** The best in [lo, hi), the lowest index on a tie. */
  #range(lo: number, hi: number): number {
    const win = this.#win;
    let left = -1;
    let right = -1;
    for (let l = lo + this.#size, r = hi + this.#size; l < r; l >>= 1, r >>= 1) {
      if (l & 1) left = this.#better(left, win[l++]);
      if (r & 1) right = this.#better(win[--r], right);
    }
    return this.#better(left, right);
  }
}

/** The leaves of a tree over `count` candidates: the next power of two. */
export function leaves(count: number): number {
  let size = 1;
  while (size < count) size <<= 1;
  return size;
}

/**
 * A tournament tree whose key is one number, the largest winning, the lower order on a tie: the
 * grouped race's groups (grouped-race.ts), where a pick changes a key every time and the
 * Tournament's cross-multiplied fractions would cost twice the reads. Each node holds its
 * winner's key beside the winner, so a changed leaf carries its path's winner and key up and
 * reads only the sibling at each level. Each leaf carries its own order (the candidate's
 * index); while the leaves are filled in that order (`ordered`), the lower leaf wins a tie
 * without reading it — most picks meet ties, the members of a group that have not had their turn
 * yet all standing alike.
 */
export class MaxTournament {
  #size = 1;
  /** winner (leaf) per node, -1 for none; node 1 is the root, leaves at size + i */
  #win = new Int32Array(2).fill(-1);
  /** per node: its winner's key, -Infinity for none (so an empty half never wins) */
  #key = new Float64Array(2).fill(-Infinity);
  #order = new Int32Array(1);
  /** the leaves' orders ascend with the leaves: a tie goes to the lower leaf without reading them */
  ordered = true;

  /** Empties the tree for `count` leaves: none is in it until put() and build(). */
  reset(count: number): void {
    const size = leaves(count);
    this.#size = size;
    this.#win = new Int32Array(2 * size).fill(-1);
    this.#key = new Float64Array(2 * size).fill(-Infinity);
    this.#order = new Int32Array(size);
    this.ordered = true;
  }

  /** How many leaves it holds. */
  get capacity(): number {
    return this.#size;
  }

  /** Sets leaf i's key and tie order without updating the nodes above: build() follows. */
  put(i: number, isIn: boolean, key: number, order: number): void {
    this.#order[i] = order;
    this.#win[this.#size + i] = isIn ? i : -1;
    this.#key[this.#size + i] = isIn ? key : -Infinity;
  }

  build(): void {
    for (let p = this.#size - 1; p >= 1; p--) this.#match(p);
  }

  /**
   * Sets leaf i's key and updates its path: O(log n). The path's winner and key are carried up
   * and met with each sibling, so a level reads one node, not both halves; it stops at a node
   * that stays as it was.
   */
  set(i: number, isIn: boolean, key: number, order: number): void {
    this.put(i, isIn, key, order);
    this.#climb(i, true);
  }

  /**
   * Lowers the winner's key (a pick): its path changes all the way up, so the climb looks for no
   * node that stays as it was — that test cost ~25 ns a pick at 1,000 members.
   */
  lowerBest(key: number): void {
    const i = this.#win[1];
    this.#key[this.#size + i] = key;
    this.#climb(i, false);
  }

  /** Recomputes the nodes above leaf i, from its own winner and key up; `mayStop`: at one that stays. */
  #climb(i: number, mayStop: boolean): void {
    const win = this.#win;
    const keys = this.#key;
    const ordered = this.ordered;
    const orders = this.#order;
    let w = win[this.#size + i];
    let k = keys[this.#size + i];
    for (let q = this.#size + i; q > 1; q >>= 1) {
      const s = q ^ 1;
      const ks = keys[s];
      // the sibling wins when larger, or equal and first: the left one (lower leaves), or the
      // lower order once the leaves are out of order (an empty half is -Infinity: never ahead)
      if (ks > k || (ks === k && (ordered ? s < q : win[s] >= 0 && orders[win[s]] < orders[w]))) {
        k = ks;
        w = win[s];
      }
      const p = q >> 1;
      if (mayStop && keys[p] === k && win[p] === w) return;
      win[p] = w;
      keys[p] = k;
    }
  }

  /** The leaf with the largest key, -1 for none. */
  get best(): number {
    return this.#win[1];
  }

  /** Node p takes the larger of its two halves, the lower order on a tie (an empty half has key -Infinity). */
  #match(p: number): void {
    const win = this.#win;
    const keys = this.#key;
    const l = 2 * p;
    const kl = keys[l];
    const kr = keys[l + 1];
    const w = kr > kl || (kr === kl && !this.ordered && win[l + 1] >= 0 && this.#order[win[l + 1]] < this.#order[win[l]]) ? l + 1 : l;
    win[p] = win[w];
    keys[p] = keys[w];
  }
}

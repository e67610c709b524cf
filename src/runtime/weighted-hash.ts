// Pool.acquireByHash's choice in O(log n): the members of one tier (primaries or backups) laid end
// to end by weight, and the one under `hash % total`. A Fenwick tree keeps the running sums of
// the weights of the members that take new clients, so a member going up or down is O(log n) and
// a pick reads no member. It is exact only while every weight is an integer (sums then add up
// alike in every thread, whatever order the changes came in) and no member has a connection
// limit (a limit makes `usable` change in other threads, unseen here): otherwise `exact` is
// false and the pool scans, as it did before.

import type { Member } from './member.ts';

export class WeightedHash {
  #members: readonly Member[] = [];
  readonly #index = new Map<Member, number>();
  /** 1-based Fenwick tree of the weights below */
  #tree = new Float64Array(1);
  /** each member's weight in the tree: 0 while it takes no new clients */
  #own = new Float64Array(0);
  /** the highest power of two not above the member count */
  #high = 0;
  /** per member: 1 while it does not fit (see fits()); and how many do not */
  #misfit = new Uint8Array(0);
  #misfits = 0;
  /** the tree may be read: integer weights and no connection limits (see the top) */
  exact = false;

  /** The tier's members, in the pool's order: O(n). */
  build(members: readonly Member[]): void {
    const n = members.length;
    this.#members = members;
    this.#index.clear();
    this.#own = new Float64Array(n);
    this.#misfit = new Uint8Array(n);
    this.#misfits = 0;
    for (let i = 0; i < n; i++) {
      const m = members[i];
      this.#index.set(m, i);
      if (!fits(m)) {
        this.#misfit[i] = 1;
        this.#misfits++;
      }
      this.#own[i] = worth(m);
    }
    this.exact = this.#misfits === 0;
    this.#sums();
    this.#high = 0;
    for (let step = 1; step <= n; step <<= 1) this.#high = step;
  }

  /**
   * A member's usable, limit or weight may have changed: O(1) when its weight in the tree stays,
   * else O(log n). The last member to fit again (a slow start over, a limit lifted) makes the
   * tree readable again, its sums made afresh from the weights (O(n), once): fractions added
   * and taken away may have left them a rounding off.
   */
  changed(member: Member): void {
    const i = this.#index.get(member);
    if (i === undefined) return;
    const w = worth(member);
    const misfit = fits(member) ? 0 : 1;
    if (misfit !== this.#misfit[i]) {
      this.#misfit[i] = misfit;
      this.#misfits += misfit === 1 ? 1 : -1;
      if (this.#misfits === 0) {
        this.#own[i] = w;
        this.#sums();
        this.exact = true;
        return;
      }
      this.exact = false;
    }
    if (w === this.#own[i]) return;
    this.#add(i, w - this.#own[i]);
    this.#own[i] = w;
  }

  /** The Fenwick tree's sums from the members' weights: O(n). */
  #sums(): void {
    const n = this.#own.length;
    this.#tree = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      this.#tree[i + 1] += this.#own[i];
      const parent = i + 1 + ((i + 1) & -(i + 1));
      if (parent <= n) this.#tree[parent] += this.#tree[i + 1];
    }
  }

  /**
   * The member under `hash` among those that take new clients and are not in `skip`, in
   * proportion to their weights; null when there is none. Read only while `exact`.
   */
  pick(hash: number, skip: readonly Member[] | null): Member | null {
    const members = this.#members;
    if (skip !== null) this.#skip(skip, -1);
    const total = this.#sum(members.length);
    let chosen: Member | null = null;
    if (total > 0) {
      // the first member whose running sum passes `at`, as the scan walks them
      let rem = (hash >>> 0) % total;
      let pos = 0;
      for (let step = this.#high; step > 0; step >>= 1) {
        const next = pos + step;
        if (next <= members.length && this.#tree[next] <= rem) {
          pos = next;
          rem -= this.#tree[next];
        }
      }
      chosen = members[pos];
    }
    if (skip !== null) this.#skip(skip, 1);
    return chosen;
  }

  /** Takes the skipped members' weights out of the tree (-1) or puts them back (1); one named twice counts once. */
  #skip(skip: readonly Member[], sign: number): void {
    for (let k = 0; k < skip.length; k++) {
      const i = this.#index.get(skip[k]);
      if (i === undefined || this.#own[i] === 0) continue;
      let again = false;
      for (let j = 0; j < k && !again; j++) again = skip[j] === skip[k];
      if (!again) this.#add(i, sign * this.#own[i]);
    }
  }

  #add(i: number, delta: number): void {
    for (let p = i + 1; p < this.#tree.length; p += p & -p) this.#tree[p] += delta;
  }

  #sum(count: number): number {
    let total = 0;
    for (let p = count; p > 0; p -= p & -p) total += this.#tree[p];
    return total;
  }
}

/** Integer weights add up exactly; a connection limit's `usable` changes unseen (see the top). */
function fits(m: Member): boolean {
  return m.maxConnections === 0 && Number.isInteger(m.weight);
}

/** A member's weight in the tree: what the scan counts (usable, weight > 0), else 0. */
function worth(m: Member): number {
  return m.usable && m.weight > 0 ? m.weight : 0;
}

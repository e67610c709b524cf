// The list of a member's live traffic that must hear when the member stops serving
// (on-member-down, member-down.ts; the entries are member.ts's MemberTraffic): a doubly linked list whose entries carry their own links. An http request
// joins its member's list when it is sent and leaves it when the answer comes, so at tens of
// thousands of requests a second joining and leaving must cost next to nothing: a Set's add and
// delete (hashing, and a table that grows and shrinks) cost ~1 µs of CPU per request in the
// process (bench/README.md, issue 17's http keep-alive section); two pointer swaps do not. An
// entry is in one list at most; the order is the order of joining.

/** What an entry carries: the links of the list it is in (TrafficList's alone), null while in none. */
export interface TrafficLinks<T extends TrafficLinks<T>> {
  trafficPrev: T | null;
  trafficNext: T | null;
  trafficList: TrafficList<T> | null;
}

export class TrafficList<T extends TrafficLinks<T>> {
  #first: T | null = null;
  #last: T | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  has(t: T): boolean {
    return t.trafficList === this;
  }

  /** Adds `t` at the end (nothing when it is in already; out of another list first). */
  add(t: T): void {
    if (t.trafficList === this) return;
    t.trafficList?.delete(t);
    t.trafficList = this;
    t.trafficPrev = this.#last;
    t.trafficNext = null;
    if (this.#last === null) this.#first = t;
    else this.#last.trafficNext = t;
    this.#last = t;
    this.#size++;
  }

  /** Takes `t` out; false when it was not in this list. */
  delete(t: T): boolean {
    if (t.trafficList !== this) return false;
    const prev = t.trafficPrev;
    const next = t.trafficNext;
    if (prev === null) this.#first = next;
    else prev.trafficNext = next;
    if (next === null) this.#last = prev;
    else next.trafficPrev = prev;
    t.trafficPrev = t.trafficNext = t.trafficList = null;
    this.#size--;
    return true;
  }

  /** The entries now, in order: what is walked while each one leaves as it hears. */
  toArray(): T[] {
    const all: T[] = [];
    for (let t = this.#first; t !== null; t = t.trafficNext) all.push(t);
    return all;
  }
}

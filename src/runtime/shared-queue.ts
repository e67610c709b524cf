// A pool's queue across worker threads (issue 14). Each thread keeps its own queue of waiting
// clients (Pool: their callbacks and timers cannot cross threads); this is what the threads
// share about it, one block per pool of an Int32Array over a SharedArrayBuffer, so a place
// freed on one thread serves a client queued on another:
// - a generation: a thread that frees a place while some thread has clients queued bumps it
//   and wakes the threads waiting on it (Atomics.notify); a thread with clients queued waits on
//   it with Atomics.waitAsync and serves its queue when woken. A release when no thread has
//   clients queued costs one load.
// - how many threads have clients queued, and each thread's count (queue.max holds for the
//   pool, summed over the threads).
// - a ticket counter: each queued client takes the next ticket, so the order clients came in is
//   known across threads; each thread publishes the ticket of its oldest client that waits for
//   any member, and a thread serves such a client only when no other thread has an older one:
//   clients are served in the order they came, whichever thread holds them. (Clients that wait
//   for their own member, with persistence's when-full: wait, are served by that member's room
//   in each thread's order.)
//
// Why wake and not hand over: a place is a compare-and-swap on the shared count
// (shared-counters.ts); the woken thread takes it itself, so no message carries it, none can be
// lost with a thread that dies, and a release costs nothing more while nobody waits.

/** The block's header: generation, threads with clients queued, ticket counter. */
const GEN = 0;
const WAITING = 1;
const TICKET = 2;
const HEADER = 3;
/** Each thread's part: clients queued, whether it has one waiting for any member, and that one's ticket. */
const QUEUED = 0;
const HAS_HEAD = 1;
const HEAD = 2;
const PER_THREAD = 3;

/** Int32 elements of one pool's block for `threads` threads. */
export function queueBlockLength(threads: number): number {
  return HEADER + PER_THREAD * threads;
}

/** What a thread's queue does when woken: serves what it can, returns how many still wait. */
export type ServeQueue = () => number;

/** One pool's shared queue state, as one thread (`self`) sees it. */
export class SharedQueue {
  readonly #counts: Int32Array;
  readonly #base: number;
  readonly #threads: number;
  /** where this thread's part starts */
  readonly #own: number;
  #serve: ServeQueue = () => 0;
  /** a waitAsync on the generation is pending */
  #watching = false;
  /** a check is due in a microtask */
  #scheduled = false;

  /** `slot`: the pool's block; `threads`: how many take part (workers and the main thread); `self`: this one's index. */
  constructor(buffer: SharedArrayBuffer, slot: number, threads: number, self: number) {
    if (!Number.isInteger(self) || self < 0 || self >= threads) throw new RangeError(`shared queue: thread ${self} of ${threads}`);
    this.#counts = new Int32Array(buffer);
    this.#base = slot * queueBlockLength(threads);
    this.#threads = threads;
    this.#own = this.#base + HEADER + PER_THREAD * self;
  }

  /** The pool's own queue: what a wake runs. */
  attach(serve: ServeQueue): void {
    this.#serve = serve;
  }

  /** The next client's place in the order of arrival, across threads. */
  ticket(): number {
    return Atomics.add(this.#counts, this.#base + TICKET, 1);
  }

  /** Clients queued for the pool in every thread. */
  queued(): number {
    const counts = this.#counts;
    let sum = 0;
    for (let t = 0, at = this.#base + HEADER; t < this.#threads; t++, at += PER_THREAD) sum += Atomics.load(counts, at + QUEUED);
    return sum;
  }

  /** Whether another thread holds a client that waits for any member and came before `ticket`. */
  olderElsewhere(ticket: number): boolean {
    const counts = this.#counts;
    for (let t = 0, at = this.#base + HEADER; t < this.#threads; t++, at += PER_THREAD) {
      if (at === this.#own || Atomics.load(counts, at + HAS_HEAD) === 0) continue;
      // tickets wrap around: compare by difference
      if (((Atomics.load(counts, at + HEAD) - ticket) | 0) < 0) return true;
    }
    return false;
  }

  /** Whether any thread has clients queued: one load, all a release costs while none has. */
  get waiting(): boolean {
    return Atomics.load(this.#counts, this.#base + WAITING) !== 0;
  }

  /**
   * A place was freed on this thread (after `waiting` said some thread has clients queued) and
   * nobody here took it: the threads with clients queued are woken.
   */
  released(): void {
    const counts = this.#counts;
    if (Atomics.load(counts, this.#base + WAITING) === 0) return;
    Atomics.add(counts, this.#base + GEN, 1);
    Atomics.notify(counts, this.#base + GEN);
  }

  /**
   * This thread's queue changed: `queued` clients, the oldest of those waiting for any member
   * with ticket `head` (null: none). A first client starts the watch; when the oldest client
   * leaves, the other threads are woken, as one of theirs may have let it go first.
   */
  update(queued: number, head: number | null): void {
    const counts = this.#counts;
    const at = this.#own;
    const was = counts[at + QUEUED];
    const hadHead = counts[at + HAS_HEAD] === 1;
    const oldHead = counts[at + HEAD];
    if (head !== null) {
      Atomics.store(counts, at + HEAD, head);
      Atomics.store(counts, at + HAS_HEAD, 1);
    } else if (hadHead) {
      Atomics.store(counts, at + HAS_HEAD, 0);
    }
    if (was !== queued) Atomics.store(counts, at + QUEUED, queued);
    if (was === 0 && queued > 0) {
      Atomics.add(counts, this.#base + WAITING, 1);
      this.#checkSoon();
    } else if (was > 0 && queued === 0) {
      Atomics.sub(counts, this.#base + WAITING, 1);
    }
    if (hadHead && head !== oldHead) this.released();
  }

  /**
   * After the count of threads waiting went up, a place freed by another thread just before may
   * have woken nobody: the queue is served once more (in a microtask, not inside enqueue) before
   * the watch starts.
   */
  #checkSoon(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#check);
  }

  /**
   * Reads the generation, serves the queue, and waits for the generation to move on while
   * clients still wait. A release after the read either gave its place to the serve or bumps
   * the generation: the wait returns at once ('not-equal') or is woken.
   */
  readonly #check = (): void => {
    this.#scheduled = false;
    const counts = this.#counts;
    const gen = this.#base + GEN;
    for (;;) {
      const seen = Atomics.load(counts, gen);
      // a wait already pending is woken by any release from now on
      if (this.#serve() === 0 || this.#watching) return;
      const wait = Atomics.waitAsync(counts, gen, seen);
      if (wait.async) {
        this.#watching = true;
        void wait.value.then(this.#woken);
        return;
      }
    }
  };

  readonly #woken = (): void => {
    this.#watching = false;
    this.#check();
  };
}

/**
 * A thread that is gone (a worker that died) takes no part any more: its queued clients went
 * with it. Clears its part of every block and wakes the threads still waiting (its places
 * were given back too). Called by the main thread once the worker has exited.
 */
export function forgetThread(buffer: SharedArrayBuffer, threads: number, thread: number): void {
  const counts = new Int32Array(buffer);
  const length = queueBlockLength(threads);
  for (let base = 0; base + length <= counts.length; base += length) {
    const at = base + HEADER + PER_THREAD * thread;
    // loads first: blocks never used stay untouched (unwritten pages take no memory)
    if (Atomics.load(counts, at + HAS_HEAD) !== 0) Atomics.store(counts, at + HAS_HEAD, 0);
    if (Atomics.load(counts, at + QUEUED) !== 0 && Atomics.exchange(counts, at + QUEUED, 0) > 0) Atomics.sub(counts, base + WAITING, 1);
    if (Atomics.load(counts, base + WAITING) === 0) continue;
    Atomics.add(counts, base + GEN, 1);
    Atomics.notify(counts, base + GEN);
  }
}

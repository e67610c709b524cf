// The pools' shared queue blocks (runtime/shared-queue.ts), as the main thread hands them out:
// one block per pool name, kept across reloads as the members' counter slots are. The threads
// that take part are the workers (0..count-1) and the main thread (count), which serves the
// udp services from the same pools.

import type { Runtime } from '../runtime/runtime.ts';
import { CounterSlots } from '../runtime/shared-counters.ts';
import { forgetThread, queueBlockLength, SharedQueue } from '../runtime/shared-queue.ts';

/** Pools a process may have: the buffer is this many blocks from the start (memory only for those used). */
export const MAX_QUEUES = 16_384;

export class QueueSlots {
  readonly buffer: SharedArrayBuffer;
  /** workers and the main thread */
  readonly threads: number;
  // the allocation by name: a pool that stays keeps its block, a removed one's is retired until
  // sweep(). Its own counts stay 0: once every worker applied a config without the pool, each
  // has closed it, which left its block with nothing queued, so the block is free to reuse.
  readonly #slots = new CounterSlots(MAX_QUEUES);

  constructor(threads: number) {
    this.threads = threads;
    this.buffer = new SharedArrayBuffer(MAX_QUEUES * queueBlockLength(threads) * 4);
  }

  /** The blocks of exactly these pools (a new config's): [pool name, block]. */
  assign(pools: Iterable<string>): [string, number][] {
    const names = [...pools];
    try {
      return [...this.#slots.assign(names)];
    } catch {
      throw new RangeError(`global.workers: ${names.length} pools, with those a reload just removed, are more than the ${MAX_QUEUES} whose queues the workers can share`);
    }
  }

  /** Frees the blocks of removed pools: call it once every worker runs a config without them. */
  sweep(): void {
    this.#slots.sweep();
  }

  /** A worker that died: its part of every block is cleared and the others are woken. */
  forget(thread: number): void {
    forgetThread(this.buffer, this.threads, thread);
  }
}

/** What a thread needs to join the pools' shared queues. */
export interface QueueShare {
  buffer: SharedArrayBuffer;
  threads: number;
  self: number;
}

/** The shared queue of the pool in `slot`, for the thread `share.self`. */
export function sharedQueue(share: QueueShare, slot: number): SharedQueue {
  return new SharedQueue(share.buffer, slot, share.threads, share.self);
}

/**
 * Gives each pool of `runtime` that has none yet its shared queue, from `blocks` ([pool name,
 * block]). Before the pools take traffic; a pool that stays across a reload keeps its block.
 */
export function shareQueues(runtime: Runtime, share: QueueShare, blocks: readonly [string, number][]): void {
  for (const [name, slot] of blocks) {
    const pool = runtime.pools.get(name);
    if (pool !== undefined && !pool.queueShared) pool.shareQueue(sharedQueue(share, slot));
  }
}

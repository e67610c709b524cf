// The datagrams a udp service dropped, summed over the worker threads that serve it: the main
// thread's WorkersListener of the service makes the buffer and reads it (admin API, metrics);
// every worker's UdpListener adds to it as it drops (postMessage shares a SharedArrayBuffer, it
// does not copy it). One sum per reason rather than one per worker: a worker that dies leaves its
// drops counted, and a replaced one adds to them.
// 64-bit counts: a flood may drop more than 2^31 datagrams in a process's life.

import type { DropTally, UdpDrop } from '../proxy/udp-listener.ts';

/** each reason's place in the buffer */
const INDEX: Record<UdpDrop, number> = { malformed: 0, unmatched: 1, noMember: 2, denied: 3 };

export class SharedDrops implements DropTally {
  readonly buffer: SharedArrayBuffer;
  readonly #counts: BigInt64Array;

  constructor(buffer = new SharedArrayBuffer(4 * 8)) {
    this.buffer = buffer;
    this.#counts = new BigInt64Array(buffer);
  }

  add(reason: UdpDrop): void {
    Atomics.add(this.#counts, INDEX[reason], 1n);
  }

  read(): Record<UdpDrop, number> {
    const counts = this.#counts;
    return { malformed: Number(Atomics.load(counts, 0)), unmatched: Number(Atomics.load(counts, 1)), noMember: Number(Atomics.load(counts, 2)), denied: Number(Atomics.load(counts, 3)) };
  }
}

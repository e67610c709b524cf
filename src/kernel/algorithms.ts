// What each balancing algorithm becomes in nftables. The kernel picks a member for the first
// packet of a connection with one expression: `numgen inc` (a counter: round-robin), `numgen
// random`, or `jhash` of the client address (a hash), each indexing a table of member slots.
// It cannot see connection counts or response times, so the algorithms that need them run as
// their nearest kernel form, and validation says so.

import type { AlgorithmName } from '../config/types.ts';

/**
 * round-robin: each usable member once, in turn. weighted: slots in proportion to weight,
 * interleaved (smooth). random: weighted slots, numgen random. source-hash / maglev: jhash of
 * the client address over a table built on every member (see slots.ts).
 */
export type KernelMethod = 'round-robin' | 'weighted' | 'random' | 'source-hash' | 'maglev';

export interface KernelAlgorithm {
  method: KernelMethod;
  /** why the kernel runs something else than the pool's algorithm; null when it runs it as is */
  note: string | null;
}

export function kernelAlgorithm(name: AlgorithmName): KernelAlgorithm {
  switch (name) {
    case 'round-robin':
      return { method: 'round-robin', note: null };
    case 'weighted-round-robin':
      return { method: 'weighted', note: null };
    case 'source-hash':
      return { method: 'source-hash', note: null };
    case 'maglev':
      return { method: 'maglev', note: null };
    case 'least-connections':
      return { method: 'round-robin', note: 'least-connections runs as round-robin: nftables does not count connections per member' };
    case 'weighted-least-connections':
      return { method: 'weighted', note: 'weighted-least-connections runs as weighted-round-robin: nftables does not count connections per member' };
    case 'random-two':
      return { method: 'random', note: 'random-two runs as weighted random (numgen random): nftables cannot compare two members\' connection counts' };
    case 'least-time':
      return { method: 'weighted', note: 'least-time runs as weighted-round-robin: nftables does not measure response times' };
    default: {
      const unknown: never = name;
      throw new Error(`unknown balancing algorithm: ${String(unknown)}`);
    }
  }
}

// What furiwake knows of a balancing algorithm besides its picks: its name in the config, how
// to build one, what it reads (a hash of the client key, weights) and what nftables can do with
// it. Each algorithm's file exports one of these; registry.ts lists them, and everything else
// (the config's list of names, AlgorithmName, the kernel form, who skips slow start) reads them
// from there, so an algorithm is added in one file plus one registry line.

import type { Balancer, Candidate } from './balancer.ts';

/**
 * How nftables picks a member for the first packet of a connection, with one expression over a
 * table of member slots (see kernel/slots.ts): round-robin (`numgen inc`, each usable member
 * once in turn), weighted (slots in proportion to weight, interleaved), random (weighted slots,
 * `numgen random`), source-hash and maglev (`jhash` of the client address over a table built on
 * every member). The kernel cannot see connection counts or response times.
 */
export type KernelMethod = 'round-robin' | 'weighted' | 'random' | 'source-hash' | 'maglev';

export interface KernelForm {
  method: KernelMethod;
  /** why the kernel runs something else than the algorithm (validate says it); null when it runs it as is */
  note: string | null;
}

export interface Algorithm<Name extends string = string> {
  /** the name in the config file (`algorithm: <name>`) */
  readonly name: Name;
  create<T extends Candidate>(candidates: readonly T[]): Balancer<T>;
  /**
   * The same choices as create()'s, kept in trees so a pick is O(log n) at any pool size; it
   * reads a candidate's usable, active, ramp and latency only when told through changed().
   * Absent: create()'s balancer already picks in O(1) (or near it) and reads state live.
   */
  createIndexed?<T extends Candidate>(candidates: readonly T[]): Balancer<T>;
  /**
   * Reads the `hash` given to pick(): a data plane may skip computing it for the others. Its
   * table maps keys by weight, so slow start (which changes weights) would move keys: a member
   * coming back up takes its full share at once.
   */
  readonly usesHash: boolean;
  /** never chooses a weight-0 candidate; the others ignore weight */
  readonly weighted: boolean;
  /**
   * A weight change needs update() (O(n)): its table is laid out by weight (source-hash's slots,
   * maglev's permutation turns). The others take one through changed(), O(log n) or nothing.
   */
  readonly rebuildsOnWeight: boolean;
  /** what nat and dsr services run in the kernel for a pool with this algorithm */
  readonly kernel: KernelForm;
}

// The contract between the runtime and every balancing algorithm. Algorithms are pure and
// synchronous: they read the candidates' state, keep only derived tables of their own, and
// return a choice. They never do I/O and never hold timers.

/** What an algorithm may read of a member. runtime/member.ts implements it. */
export interface Candidate {
  /** stable identity; seeds the hash tables (source-hash, maglev) so they survive reloads */
  readonly id: string;
  /** effective weight; 0 = never chosen by a weighted algorithm */
  readonly weight: number;
  /** live connections */
  readonly active: number;
  /** moving average of connect / first-byte time in ms; 0 = no sample yet (least-time) */
  readonly latency: number;
  /**
   * slow start: the share (0..1] of its capacity a member that just came back up may take;
   * absent = 1. Weighted algorithms see it in `weight`; least-connections, which ignores
   * weight, counts the member as busier by 1/ramp.
   */
  readonly ramp?: number;
  /** healthy, enabled and under its connection limit */
  readonly usable: boolean;
  /**
   * its `active` (and so `usable`) also changes in other threads, which do not call changed()
   * (worker threads' shared counts); absent = false
   */
  readonly shared?: boolean;
}

export interface Balancer<T extends Candidate> {
  /** the name of its Algorithm descriptor (registry.ts) */
  readonly algorithm: string;
  /**
   * Choose a usable candidate that is not in `skip` (members already tried for this
   * connection), or undefined when there is none. `hash` is a 32-bit hash of the client key
   * (its address, through hashString), read only by the hashing algorithms. Weighted
   * algorithms never choose weight 0. usable, active and latency are read live on every pick;
   * pick() allocates nothing, so it is safe on the per-connection path.
   */
  pick(hash: number, skip: readonly T[] | null): T | undefined;
  /**
   * The candidate list changed (a reload), or a weight of an algorithm whose table is laid out by
   * weight (Algorithm.rebuildsOnWeight): rebuild derived state. May allocate.
   */
  update(candidates: readonly T[]): void;
  /**
   * usable, active, ramp, latency or weight of `candidate` changed. The scanning balancers read
   * those live and ignore this; the indexed ones (createIndexedBalancer) re-key it here,
   * O(log n), and read nothing else between picks. Unknown candidates are ignored.
   */
  changed(candidate: T): void;
}

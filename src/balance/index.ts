// The balance/ entry point: the algorithms by their config name (registry.ts), and the key hash.

export type { Algorithm, KernelForm, KernelMethod } from './algorithm.ts';
export type { Balancer, Candidate } from './balancer.ts';
export { hashString } from './hash.ts';
export { LeastConnections } from './least-connections.ts';
export { LeastTime } from './least-time.ts';
export { Maglev } from './maglev.ts';
export { RandomTwo } from './random-two.ts';
export { algorithm, ALGORITHMS, createBalancer, createIndexedBalancer, indexedFor, isWeighted, SCAN_UP_TO, usesHash, type AlgorithmName } from './registry.ts';
export { RoundRobin } from './round-robin.ts';
export { SourceHash } from './source-hash.ts';
export { WeightedLeastConnections } from './weighted-least-connections.ts';
export { WeightedRoundRobin } from './weighted-round-robin.ts';

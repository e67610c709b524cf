// Every balancing algorithm, in the order the manual lists them. Adding one is its own file
// (the Balancer and its Algorithm descriptor) plus one line here; the config's list of names,
// AlgorithmName, the kernel form and the slow-start rule all follow from this list.

import type { Algorithm } from './algorithm.ts';
import type { Balancer, Candidate } from './balancer.ts';
import { leastConnections } from './least-connections.ts';
import { leastTime } from './least-time.ts';
import { maglev } from './maglev.ts';
import { randomTwo } from './random-two.ts';
import { roundRobin } from './round-robin.ts';
import { sourceHash } from './source-hash.ts';
import { weightedLeastConnections } from './weighted-least-connections.ts';
import { weightedRoundRobin } from './weighted-round-robin.ts';

const REGISTRY = [
  roundRobin,
  weightedRoundRobin,
  leastConnections,
  weightedLeastConnections,
  randomTwo,
  sourceHash,
  maglev,
  leastTime,
] as const;

export type AlgorithmName = (typeof REGISTRY)[number]['name'];

/** The names, as the config accepts them. */
export const ALGORITHMS: readonly AlgorithmName[] = REGISTRY.map((a) => a.name);

const byName = new Map<string, Algorithm<AlgorithmName>>(REGISTRY.map((a) => [a.name, a]));

/** The descriptor of a configured algorithm; throws for a name the config would have refused. */
export function algorithm(name: AlgorithmName): Algorithm<AlgorithmName> {
  const found = byName.get(name);
  if (found === undefined) throw new Error(`unknown balancing algorithm: ${String(name)}`);
  return found;
}

export function createBalancer<T extends Candidate>(name: AlgorithmName, candidates: readonly T[]): Balancer<T> {
  return algorithm(name).create(candidates);
}

/**
 * The algorithm's indexed form (Algorithm.createIndexed) where it has one: its caller must call
 * changed() whenever a candidate's usable, active, ramp or latency changes (runtime/pool.ts does).
 */
export function createIndexedBalancer<T extends Candidate>(name: AlgorithmName, candidates: readonly T[]): Balancer<T> {
  const found = algorithm(name);
  return found.createIndexed === undefined ? found.create(candidates) : found.createIndexed(candidates);
}

/**
 * Up to this many candidates a scan is cheaper than keeping trees (bench/balance.ts: ~35–100 ns
 * against ~100–200 ns a pick at 3; about even at 100).
 */
export const SCAN_UP_TO = 64;

/** The form a pool of `count` candidates picks with: the scan for small ones, else the indexed form. */
export function indexedFor(name: AlgorithmName, count: number): boolean {
  return count > SCAN_UP_TO && algorithm(name).createIndexed !== undefined;
}

/** Asked on every connection and request: a Set of names answers without a descriptor lookup. */
const hashing = new Set<string>(REGISTRY.filter((a) => a.usesHash).map((a) => a.name));

/** Only these read the `hash` given to pick(): a data plane may skip computing it for the others. */
export function usesHash(name: AlgorithmName): boolean {
  return hashing.has(name);
}

/** Weighted algorithms never choose a weight-0 candidate; the others ignore weight. */
export function isWeighted(name: AlgorithmName): boolean {
  return algorithm(name).weighted;
}

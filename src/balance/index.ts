// The balance/ entry point: an algorithm by its config name, and the key hash.

import type { AlgorithmName, Balancer, Candidate } from './balancer.ts';
import { LeastConnections } from './least-connections.ts';
import { LeastTime } from './least-time.ts';
import { Maglev } from './maglev.ts';
import { RandomTwo } from './random-two.ts';
import { RoundRobin } from './round-robin.ts';
import { SourceHash } from './source-hash.ts';
import { WeightedLeastConnections } from './weighted-least-connections.ts';
import { WeightedRoundRobin } from './weighted-round-robin.ts';

export type { AlgorithmName, Balancer, Candidate } from './balancer.ts';
export { hashString } from './hash.ts';
export {
  LeastConnections,
  LeastTime,
  Maglev,
  RandomTwo,
  RoundRobin,
  SourceHash,
  WeightedLeastConnections,
  WeightedRoundRobin,
};

/** Every algorithm, in the order the manual lists them. */
export const ALGORITHMS = [
  'round-robin',
  'weighted-round-robin',
  'least-connections',
  'weighted-least-connections',
  'random-two',
  'source-hash',
  'maglev',
  'least-time',
] as const satisfies readonly AlgorithmName[];

/** Only these read the `hash` given to pick(): a data plane may skip computing it for the others. */
export function usesHash(name: AlgorithmName): boolean {
  return name === 'source-hash' || name === 'maglev';
}

/** Weighted algorithms never choose a weight-0 candidate; the others ignore weight. */
export function isWeighted(name: AlgorithmName): boolean {
  return name !== 'round-robin' && name !== 'least-connections';
}

export function createBalancer<T extends Candidate>(name: AlgorithmName, candidates: readonly T[]): Balancer<T> {
  switch (name) {
    case 'round-robin':
      return new RoundRobin(candidates);
    case 'weighted-round-robin':
      return new WeightedRoundRobin(candidates);
    case 'least-connections':
      return new LeastConnections(candidates);
    case 'weighted-least-connections':
      return new WeightedLeastConnections(candidates);
    case 'random-two':
      return new RandomTwo(candidates);
    case 'source-hash':
      return new SourceHash(candidates);
    case 'maglev':
      return new Maglev(candidates);
    case 'least-time':
      return new LeastTime(candidates);
    default: {
      const unknown: never = name;
      throw new Error(`unknown balancing algorithm: ${String(unknown)}`);
    }
  }
}

// What each balancing algorithm becomes in nftables: its descriptor in balance/ says (see
// balance/algorithm.ts for the methods and each algorithm's file for its form). The algorithms
// that need connection counts or response times run as their nearest kernel form, and
// validation says so.

import { algorithm, type AlgorithmName, type KernelForm } from '../balance/index.ts';

export type { KernelMethod } from '../balance/index.ts';

export function kernelAlgorithm(name: AlgorithmName): KernelForm {
  return algorithm(name).kernel;
}

// How the bounds of a udp service are shared out between the worker threads. The kernel gives
// each flow (client address:port) to one worker, so each worker keeps a flow table of its own,
// and the tables of `balance-per` (Call-IDs; RADIUS requests and States; requests awaiting a
// reply) with it: each worker gets an even share of max-flows, and of the flows the file
// descriptor budget allows the service, so the process as a whole holds no more than one loop would.

import type { ServiceConfig } from '../config/types.ts';

/** What the workers need for their udp services besides the config (WorkerThreads.apply). */
export interface UdpForWorkers {
  /** the flows the file descriptor budget allows each udp service (Infinity: no limit known) */
  flows: number;
  /** each udp service's SharedDrops buffer (the main thread's WorkersListener holds it) */
  drops: ReadonlyMap<string, SharedArrayBuffer>;
}

/** One worker's share of `total` (at least 1; Infinity stays Infinity). */
export function workerShare(total: number, workers: number): number {
  return Math.max(1, Math.floor(total / workers));
}

/** A service's config as one of `workers` worker threads runs it. */
export function forWorker(sc: ServiceConfig, workers: number): ServiceConfig {
  return sc.mode === 'udp' ? { ...sc, maxFlows: workerShare(sc.maxFlows, workers) } : sc;
}

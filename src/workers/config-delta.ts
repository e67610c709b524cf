// What a reload sends each worker: not the whole config (at 1,000 services and 10,000 members a
// structured clone of it per worker, and a worker re-applying every pool, were a third of the
// reload) but the services and pools that are new or changed, and the names of those removed.
// The worker merges them into the config it holds: an unchanged pool keeps its very object, so
// runtime.apply() sees at a glance (===) that there is nothing to do for it.

import { sameValue } from '../config/same-value.ts';
import type { Config } from '../config/types.ts';

/** The part of the config a worker runs (workers run no admin, ha or kernel plane). */
export type WorkerConfig = Pick<Config, 'global' | 'logs' | 'services' | 'pools'>;

export interface ConfigDelta {
  global: Config['global'];
  logs: Config['logs'];
  /** true: `services` and `pools` are all of them (a worker's first config) */
  whole: boolean;
  /** the services and pools added or changed */
  services: Config['services'];
  pools: Config['pools'];
  removedServices: string[];
  removedPools: string[];
}

/** What turns `before` (what the worker holds; null: nothing yet) into `after`. */
export function deltaOf(before: WorkerConfig | null, after: WorkerConfig): ConfigDelta {
  const { global, logs } = after;
  if (before === null) return { global, logs, whole: true, services: after.services, pools: after.pools, removedServices: [], removedPools: [] };
  return {
    global, logs, whole: false,
    services: changed(before.services, after.services),
    pools: changed(before.pools, after.pools),
    removedServices: Object.keys(before.services).filter((name) => !Object.hasOwn(after.services, name)),
    removedPools: Object.keys(before.pools).filter((name) => !Object.hasOwn(after.pools, name)),
  };
}

/** The config a worker runs after `delta`: what it held, unchanged entries kept as they were (the same objects). */
export function applyDelta(before: WorkerConfig | null, delta: ConfigDelta): WorkerConfig {
  const { global, logs } = delta;
  if (delta.whole || before === null) return { global, logs, services: delta.services, pools: delta.pools };
  return { global, logs, services: merged(before.services, delta.services, delta.removedServices), pools: merged(before.pools, delta.pools, delta.removedPools) };
}

function changed<T>(before: Readonly<Record<string, T>>, after: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [name, value] of Object.entries(after)) {
    if (!Object.hasOwn(before, name) || !sameValue(before[name], value)) out[name] = value;
  }
  return out;
}

function merged<T>(before: Readonly<Record<string, T>>, changes: Readonly<Record<string, T>>, removed: readonly string[]): Record<string, T> {
  const out: Record<string, T> = { ...before };
  for (const name of removed) delete out[name];
  // in the order of the new config for the changed ones; the order of entries means nothing here
  for (const [name, value] of Object.entries(changes)) out[name] = value;
  return out;
}

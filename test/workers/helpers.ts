// What the worker-threads tests share: a config with `global.workers` set, and waiting until no
// worker holds a connection. (A client that may be turned away: greetedOrEnded in ../helpers/clients.ts.)

import type { Furiwake } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';

export function withWorkers(config: Config, workers: number): Config {
  return { ...config, global: { ...config.global, workers } };
}

/** Once no worker holds a connection any more (each round is one message to every worker and back). */
export async function drained(app: Furiwake): Promise<void> {
  for (;;) {
    const stats = await app.workers!.stats();
    if (stats.every((s) => s.connections === 0)) return;
  }
}

// A reload that changes global.workers. Between two counts above 1 the worker threads grow or
// shrink (WorkerThreads.resize): new workers bind beside the others (SO_REUSEPORT), those beyond
// the count stop accepting and get the shutdown grace for their connections. Between 1 and more
// the reload is refused for this key: one loop binds its services without SO_REUSEPORT (so that a
// second process on the same address fails instead of sharing it), so the switch would have to
// close each address for a moment and turn clients away; a restart does it.

import type { Logger } from '../log.ts';
import type { WorkerThreads } from './worker-threads.ts';

/**
 * Applies a changed worker count to the running threads (`workers`: null when one loop serves).
 * Returns the problem to report when the change must wait for a restart, else null.
 */
export function changeWorkerCount(workers: WorkerThreads | null, configured: number, grace: number, log: Logger): string | null {
  const running = workers?.count ?? 1;
  if (configured === running) return null;
  if (workers === null || configured === 1) {
    return `global.workers: ${running} → ${configured} takes a restart (between one event loop and worker threads a reload cannot move the listening sockets without turning clients away); ${running} keeps running until then, the rest of the config is applied`;
  }
  log.info({ running, configured }, configured > running ? 'global.workers: starting more worker threads' : 'global.workers: worker threads beyond the new count finish their connections and stop');
  workers.resize(configured, grace);
  return null;
}

// A reload that changes global.workers: refused for this key (the rest of the config is applied),
// the running count stays until the next start. Between one loop and workers the listening
// sockets would have to move (one loop binds without SO_REUSEPORT, so that a second process on
// the same address fails instead of sharing it), turning clients away; between two counts above
// 1, what the threads share in memory (the queues, the stick tables' relay) is laid out for the
// count the process started with. A restart does either cleanly.

import type { WorkerThreads } from './worker-threads.ts';

/**
 * The problem to report when a reload asks for another worker count (`workers`: null when one
 * loop serves), else null.
 */
export function changeWorkerCount(workers: WorkerThreads | null, configured: number): string | null {
  const running = workers?.count ?? 1;
  if (configured === running) return null;
  return `global.workers: ${running} → ${configured} takes a restart (the worker threads, their listening sockets and what they share are set up at start); ${running} keep${running === 1 ? 's' : ''} running until then, the rest of the config is applied`;
}

// Waiting for a state, without a timer: on the event that announces it, or, for states that
// emit none, once per turn of the event loop.

import type { EventEmitter } from 'node:events';

/**
 * Resolves once `condition()` holds: checked now, then after each `event` of `emitter` when
 * given, else after each turn of the event loop.
 */
export async function until(condition: () => boolean, emitter?: EventEmitter, event?: string): Promise<void> {
  if (condition()) return;
  if (emitter === undefined || event === undefined) {
    while (!condition()) await new Promise((resolve) => setImmediate(resolve));
    return;
  }
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (!condition()) return;
      emitter.off(event, check);
      resolve();
    };
    emitter.on(event, check);
  });
}

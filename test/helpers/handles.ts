// What the process holds open (sockets, servers, pipes, child processes, timers), for the tests
// that prove that stopping or closing something leaves nothing behind.

import assert from 'node:assert/strict';
import { afterEach, before } from 'node:test';

/** Not ours to close: the terminal, and file system requests node makes on its own. */
const IGNORED = new Set(['TTYWrap', 'FSReqCallback']);

/**
 * The open handles, sorted, once the handles closed so far are gone: libuv runs close callbacks
 * after the check phase, so two turns of setImmediate pass one close phase.
 */
export async function openHandles(): Promise<string[]> {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
  return process.getActiveResourcesInfo().filter((r) => !IGNORED.has(r)).sort();
}

/**
 * Asserts after each test of the current suite that no handle is left beyond what the suite
 * held when this was called (register it after the suite's own `before`). `settle` waits for
 * what the suite's shared peers close on their own time.
 */
export function checkHandles(settle: () => Promise<void> = async () => {}): void {
  let baseline: string[];
  before(async () => (baseline = await openHandles()));
  afterEach(async () => {
    await settle();
    assert.deepEqual(await openHandles(), baseline, 'a handle was left open');
  });
}

// What the process holds open (sockets, servers, pipes, child processes, timers), for the tests
// that prove that stopping or closing something leaves nothing behind.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
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
 * Resolves once each of `sockets` has closed (its handle is gone): for the ends that close when
 * they hear the other end close, a network round trip later, however many loop turns that takes.
 * Fails if some are still open after `bound` ms (a generous bound: the other end never closed).
 */
export async function allClosed(sockets: Iterable<Socket>, bound = 10_000): Promise<void> {
  const open = [...sockets].filter((s) => !s.closed);
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${open.filter((s) => !s.closed).length} of ${open.length} sockets still open after ${bound} ms`)), bound);
  });
  try {
    await Promise.race([Promise.all(open.map((s) => once(s, 'close'))), stuck]);
  } finally {
    clearTimeout(timer);
  }
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

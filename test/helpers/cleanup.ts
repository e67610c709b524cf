// Undoing, at the end of a test file, what its helpers started or created (servers, peers, temp
// dirs), whatever happened. A helper cannot call `after` itself: called inside a `before` hook,
// node:test runs it as soon as that hook ends; called inside a test, when that test ends. This
// registry's one `after` is registered when the file imports it, on the file's root.

import { after } from 'node:test';

const undo = new Set<() => Promise<void>>();
after(async () => {
  for (const fn of [...undo].reverse()) await fn().catch(() => {});
});

/** Registers `fn` to run at the end of the file (once); returns it wrapped so that calling it early unregisters it. */
export function atEnd(fn: () => Promise<unknown>): () => Promise<void> {
  let done: Promise<unknown> | null = null;
  const once = async (): Promise<void> => {
    undo.delete(once);
    done ??= fn();
    await done;
  };
  undo.add(once);
  return once;
}

/** `thing` (a server, a peer), closed at the end of the file unless the test closes it sooner. */
export async function closedAtEnd<T extends { close(): Promise<unknown> }>(thing: T | Promise<T>): Promise<T> {
  const t = await thing;
  atEnd(() => t.close());
  return t;
}

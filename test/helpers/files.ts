// Temporary directories for the tests' files (configs, certificates, peers' state).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { atEnd } from './cleanup.ts';

/** A new directory `furiwake-<prefix>-*` in the system's temp dir, removed at the end of the file whatever happened. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `furiwake-${prefix}-`));
  atEnd(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

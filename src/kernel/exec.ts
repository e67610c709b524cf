// Running the kernel's command-line tools (nft, conntrack): one child process per call, input
// on stdin, output collected up to a bound, a timeout, and an error that carries what the tool
// said on stderr. Only these two programs are run, found on PATH, never through a shell.

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Listing a large conntrack table is the biggest output we read: 64 MiB is ~300k entries. */
const MAX_OUTPUT = 64 * 1024 * 1024;
const TIMEOUT = 15_000;

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export class ExecError extends Error {
  readonly code: number | null;
  readonly stderr: string;

  constructor(message: string, code: number | null, stderr: string) {
    super(message);
    this.code = code;
    this.stderr = stderr;
  }
}

/** The full path of `name` on PATH, or null when it is not there (or not executable). */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Runs `file args`, writing `input` to its stdin; rejects with ExecError on a non-zero exit. */
export function exec(file: string, args: readonly string[], input = ''): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: TIMEOUT });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let overflow = false;
    const collect = (into: Buffer[]) => (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_OUTPUT) {
        overflow = true;
        child.kill('SIGKILL');
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    // EPIPE when the tool exits before reading its input: its exit status tells why.
    child.stdin.on('error', () => {});
    child.on('error', (e) => reject(new ExecError(`${file}: ${e.message}`, null, '')));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0) return resolve({ stdout, stderr });
      const why = overflow
        ? `output exceeds ${MAX_OUTPUT} bytes`
        : signal !== null
          ? `killed by ${signal}${signal === 'SIGTERM' ? ` after ${TIMEOUT / 1000}s` : ''}`
          : stderr.trim() || `exit status ${code}`;
      reject(new ExecError(`${file} ${args.join(' ')}: ${why}`, code, stderr));
    });
    child.stdin.end(input);
  });
}

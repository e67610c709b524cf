// Running the kernel's command-line tools: one child process per call, input on stdin, output
// collected up to a bound, a timeout, and an error that carries what the tool said on stderr.
// The kernel plane runs nft, conntrack and iproute2's ip (is a full-NAT VIP a preferred
// address?), found on PATH or where requirements.ts found them, never through a shell.

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

export interface ExecOptions {
  /** ms before the tool is killed (SIGKILL); default 15 s */
  timeout?: number;
  /** most bytes of stdout and stderr together; past it the tool is killed; default 64 MiB */
  maxOutput?: number;
}

/**
 * Runs `file args`, writing `input` to its stdin; rejects with ExecError on a non-zero exit, a
 * timeout or too much output. Never throws: a tool that cannot be started is a rejection too.
 */
export function exec(file: string, args: readonly string[], input = '', options: ExecOptions = {}): Promise<ExecResult> {
  const timeout = options.timeout ?? TIMEOUT;
  const maxOutput = options.maxOutput ?? MAX_OUTPUT;
  return new Promise((resolve, reject) => {
    // a process group of its own, so that a timeout kills whatever the tool started too
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let timedOut = false;
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is gone already
      }
    };
    // SIGKILL, not SIGTERM: a tool stuck or ignoring SIGTERM must not hang a reload. Our own
    // timer (not spawn's option, which outlives a tool that failed to start), cleared at the end.
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeout);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let overflow = false;
    const collect = (into: Buffer[]) => (chunk: Buffer): void => {
      if (overflow) return;
      size += chunk.length;
      if (size > maxOutput) {
        overflow = true;
        killGroup();
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    // EPIPE when the tool exits before reading its input: its exit status tells why.
    child.stdin.on('error', () => {});
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ExecError(`${file}: ${e.message}`, null, ''));
    });
    // what the tool left running would hold the pipes open: it goes with the tool
    child.on('exit', killGroup);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0 && !overflow) return resolve({ stdout, stderr });
      const why = overflow
        ? `output exceeds ${maxOutput} bytes`
        : timedOut
          ? `no answer after ${timeout / 1000}s: killed`
          : signal !== null
            ? `killed by ${signal}`
            : stderr.trim() || `exit status ${code}`;
      reject(new ExecError(`${file} ${args.join(' ')}: ${why}`, code, stderr));
    });
    child.stdin.end(input);
  });
}

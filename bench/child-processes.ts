// The benches' child processes (furiwake, members): started until a line of their output, killed
// when the bench ends or is interrupted, with a temporary directory removed with them.

import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export class Children {
  /** a temporary directory for the bench's files, removed by stopAll() */
  readonly tmp: string;
  readonly #children: ChildProcess[] = [];

  constructor(prefix: string) {
    this.tmp = mkdtempSync(join(tmpdir(), `furiwake-bench-${prefix}-`));
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (this.stopAll(), process.exit(130)));
  }

  stopAll(): void {
    for (const c of this.#children) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
    rmSync(this.tmp, { recursive: true, force: true });
  }

  /** Resolves with `proc`'s output once it contains `until` (then its output is read and dropped). */
  async started(proc: ChildProcess, until: string): Promise<string> {
    this.#children.push(proc);
    let out = '';
    proc.stdout!.setEncoding('utf8');
    return new Promise((resolve, reject) => {
      const onData = (c: string): void => {
        out += c;
        if (!out.includes(until)) return;
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        resolve(out);
      };
      proc.stdout!.on('data', onData);
      proc.once('exit', () => reject(new Error(`exited before "${until}":\n${out}`)));
    });
  }
}

/** A tcp port free on loopback now. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  return port;
}

/** Requests/s of an h2load run with `args`; throws unless all `requests` succeeded. */
export async function h2loadRate(args: string[], requests: number): Promise<number> {
  const { stdout } = await promisify(execFile)('h2load', ['-n', String(requests), ...args]);
  const rps = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout);
  const ok = /(\d+) succeeded/.exec(stdout);
  if (rps === null || ok === null || Number(ok[1]) !== requests) throw new Error(`h2load: ${stdout}`);
  return Number(rps[1]);
}

/** Kills `proc` and waits for its end. */
export async function killed(proc: ChildProcess): Promise<void> {
  proc.kill('SIGKILL');
  await once(proc, 'exit');
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

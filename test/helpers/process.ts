// Runs the furiwake command as a child process (Node 24, the real bin) and follows its output.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';

const BIN = fileURLToPath(new URL('../../bin/furiwake.js', import.meta.url));

export interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** resolves with the first stdout line that satisfies `match` (a pure test), searching what came before too */
  line(match: (line: string) => boolean): Promise<string>;
  /** the JSON log event whose msg is `msg` (optionally the n-th one) */
  event(msg: string, nth?: number): Promise<Record<string, unknown>>;
  exit(): Promise<number | null>;
}

/**
 * `node`: options for Node.js itself (before the bin); `env`: added to this process's environment;
 * `bin`: another furiwake entry (an installed package's) instead of this checkout's.
 */
export function furiwake(args: string[], options: { node?: string[]; env?: Record<string, string>; bin?: string } = {}): Run {
  const env = options.env === undefined ? process.env : { ...process.env, ...options.env };
  const child = spawn(process.execPath, [...(options.node ?? []), options.bin ?? BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    line(match) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = run.stdout.split('\n').find(match);
          if (found === undefined) return false;
          child.stdout!.off('data', onData);
          child.off('exit', onExit);
          resolve(found);
          return true;
        };
        const onData = (): void => void check();
        const onExit = (): void => reject(new Error(`furiwake exited before the line; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`));
        if (check()) return;
        child.stdout!.on('data', onData);
        child.once('exit', onExit);
      });
    },
    async event(msg, nth = 1) {
      const events = (): Record<string, unknown>[] => run.stdout.split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => e.msg === msg);
      // wait for a line that makes the nth event appear, then take it from the whole output
      await run.line(() => events().length >= nth);
      return events()[nth - 1];
    },
    exit: () => exited,
  };
  // listeners are attached before `line` callers so text is never missed
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (run.stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (run.stderr += c));
  return run;
}

/**
 * `furiwake start -c file`, with its admin API's URL once it listens: stopped gracefully (SIGTERM,
 * exit status 0 asserted) when the test (or suite) it is started in ends.
 */
export async function startedWithAdmin(file: string): Promise<{ run: Run; admin: string }> {
  // registered before the helper's own hook (which kills what is left), so this one stops it gracefully first
  after(async () => {
    run.child.kill('SIGTERM');
    const status = await run.exit();
    if (status !== 0) throw new Error(`furiwake exited with ${status}; stderr:\n${run.stderr}`);
  });
  const run = furiwake(['start', '-c', file]);
  return { run, admin: `http://127.0.0.1:${(await run.event('admin listening')).port as number}` };
}

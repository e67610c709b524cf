// The processes a benchmark starts (furiwake, a member): each waited for until it says it is
// ready, and all killed when the benchmark ends or is interrupted.

import type { ChildProcess } from 'node:child_process';

export const children: ChildProcess[] = [];

export function stopAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
}

/** Resolves with the process's output once it holds `until` (a member's port line, furiwake's start line). */
export async function started(proc: ChildProcess, until: string): Promise<string> {
  children.push(proc);
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

export { freePort } from './child-processes.ts';

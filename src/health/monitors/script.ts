// script: run an external command (no shell) with the member in its environment; exit 0 is up.
// The command runs in its own process group, so at the timeout it and anything it started are
// killed together (SIGKILL); the check settles only after the command has exited.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { ScriptMonitor } from '../../config/health-types.ts';
import type { CheckResult, CheckTarget, Monitor } from '../monitor.ts';
import { printable } from '../text.ts';
import { errorReason } from './common-reasons.ts';
import { errorText } from './proto-check.ts';

/** the most bytes kept of each of stdout and stderr (the rest is read and dropped) */
export const MAX_OUTPUT = 4 * 1024;
/** the longest output line quoted in a reason */
const MAX_LINE = 200;

export function createScriptMonitor(config: ScriptMonitor): Monitor {
  const { command, args } = config;

  return {
    run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
      return new Promise((resolve) => {
        if (signal.aborted) return resolve({ up: false, reason: 'aborted' });
        let verdict: CheckResult | null = null;
        const output = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };

        let child: ChildProcessByStdio<null, Readable, Readable>;
        try {
          child = spawn(command, args, {
            env: {
              ...process.env,
              FURIWAKE_MEMBER_HOST: target.host,
              FURIWAKE_MEMBER_ADDRESS: target.ip,
              FURIWAKE_MEMBER_PORT: String(target.port),
            },
            stdio: ['ignore', 'pipe', 'pipe'],
            detached: true, // a process group of its own: kill(-pid) reaches its children too
          });
        } catch (err) {
          // node refuses some arguments before starting anything (a NUL byte in an argument)
          return resolve({ up: false, reason: `cannot run the command: ${printable(errorText(err))}` });
        }
        const killGroup = (): void => {
          if (child.pid === undefined) return;
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // ESRCH: the group is gone already
          }
        };
        let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
        const decide = (result: CheckResult): void => {
          if (verdict !== null) return;
          verdict = result;
          signal.removeEventListener('abort', onAbort);
        };
        const onAbort = (): void => {
          signal.removeEventListener('abort', onAbort);
          killGroup();
          // a process that left the group (setsid) could hold the pipes open: stop waiting on them
          child.stdout.destroy();
          child.stderr.destroy();
        };
        signal.addEventListener('abort', onAbort, { once: true });

        for (const name of ['stdout', 'stderr'] as const) {
          // read to the end (a blocked writer would never exit), keep the first MAX_OUTPUT bytes
          child[name].on('data', (chunk: Buffer) => {
            const kept = output[name];
            if (kept.length < MAX_OUTPUT) output[name] = Buffer.concat([kept, chunk.subarray(0, MAX_OUTPUT - kept.length)]);
          });
        }
        child.on('error', (err: NodeJS.ErrnoException) => {
          decide({ up: false, reason: err.code === 'ENOENT' ? 'command not found' : errorReason(err) });
        });
        child.on('exit', (code, sig) => {
          exited = { code, signal: sig };
          // what the command left running in its group would hold the pipes open (and outlive
          // the check): it goes with the command
          killGroup();
        });
        // 'close' comes after the exit (or a failed spawn) and the end of both pipes: the whole
        // output is in, and no process of the check is left
        child.on('close', () => {
          if (exited === null) decide({ up: false, reason: 'aborted' });
          else if (signal.aborted && exited.signal === 'SIGKILL') decide({ up: false, reason: 'aborted' });
          else if (exited.code === 0) decide({ up: true, reason: 'exit 0' });
          else {
            const line = firstLine(output.stderr) ?? firstLine(output.stdout);
            const how = exited.code !== null ? `exit ${exited.code}` : `killed by ${exited.signal}`;
            decide({ up: false, reason: line === undefined ? how : `${how}: ${line}` });
          }
          resolve(verdict!);
        });
      });
    },
  };
}

/** The first line with something printable in it, without control characters, cut at MAX_LINE. */
function firstLine(buf: Buffer): string | undefined {
  const line = buf.toString('utf8').split('\n').map(printable).find((l) => l !== '');
  if (line === undefined) return undefined;
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
}

// Real protocol peers for the monitor tests (dnsmasq, FreeRADIUS, SIPp): child processes that are
// waited for by their output and stopped by PID (also at the end of the file, whatever happened),
// and small commands such as `ip netns`. Ports and temp dirs: test/helpers/ports.ts, files.ts.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import type { MonitorCommon } from '../../src/config/health-types.ts';
import type { CheckTarget } from '../../src/health/monitor.ts';
import { atEnd } from '../helpers/cleanup.ts';

const exec = promisify(execFile);

/** The fields every monitor config has; the monitors themselves do not use them. */
export const COMMON: MonitorCommon = { interval: 1000, fastInterval: 500, timeout: 1000, rise: 1, fall: 1, port: null };

export function loopback(port: number, ip = '127.0.0.1'): CheckTarget {
  return { host: ip, ip, port };
}

/** Runs a command to completion; rejects with its stderr when it fails. */
export async function command(file: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await exec(file, args, { encoding: 'utf8' });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

export interface Peer {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far, interleaved */
  output(): string;
  /** resolves when the output (so far or later) matches; rejects if the peer exits first */
  waitFor(pattern: RegExp): Promise<void>;
  /** SIGTERM by PID, then waits for the exit */
  stop(): Promise<void>;
  /** resolves with the exit code (or signal) when the peer exits */
  exited: Promise<number | string | null>;
  running(): boolean;
}

/** Starts a peer in the foreground as a child of the test; it is stopped at the end of the file in any case. */
export function startPeer(file: string, args: string[], options: { cwd?: string } = {}): Peer {
  const child = spawn(file, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const listeners = new Set<() => void>();
  const exited: Promise<number | string | null> = once(child, 'exit').then(
    ([code, signal]) => (code ?? signal) as number | string | null,
    () => null,
  );
  const onChunk = (chunk: string): void => {
    text += chunk;
    for (const l of listeners) l();
  };
  child.stdout!.setEncoding('utf8').on('data', onChunk);
  child.stderr!.setEncoding('utf8').on('data', onChunk);
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const stop = atEnd(async () => {
    if (child.pid === undefined || !running()) return;
    process.kill(child.pid, 'SIGTERM');
    // a peer that ignores SIGTERM is killed; the timer only bounds a broken peer
    const kill = setTimeout(() => running() && process.kill(child.pid!, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(kill);
  });
  return {
    child,
    pid: child.pid ?? -1,
    output: () => text,
    exited,
    running,
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(text)) {
            listeners.delete(check);
            child.off('exit', onExit);
            resolve();
          }
        };
        const onExit = (code: number | null, signal: string | null): void => {
          listeners.delete(check);
          reject(new Error(`${file} exited (${code ?? signal}) before printing ${pattern}; output:\n${text.slice(-4000)}`));
        };
        child.once('error', (err) => reject(err));
        listeners.add(check);
        child.once('exit', onExit);
        check();
        if (!running() && listeners.has(check)) onExit(child.exitCode, child.signalCode);
      });
    },
    stop,
  };
}

/**
 * For a peer with no 'ready' line: resolves once `probe` (a real request) gives true, probing
 * again after `every` ms; rejects as soon as the peer has exited.
 */
export async function pollUntil(peer: Peer, probe: () => Promise<boolean>, every = 50): Promise<void> {
  for (;;) {
    if (!peer.running()) throw new Error(`the peer exited (${await peer.exited}) before it answered; output:\n${peer.output().slice(-4000)}`);
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

/** A network namespace (name given), deleted at the end of the file or by the returned function. */
export async function netns(name: string): Promise<{ ip(...args: string[]): Promise<string>; exec(...args: string[]): Promise<string>; remove(): Promise<void> }> {
  await command('ip', ['netns', 'add', name]);
  const remove = atEnd(() => command('ip', ['netns', 'delete', name]));
  return {
    ip: (...args) => command('ip', ['-n', name, ...args]),
    exec: (...args) => command('ip', ['netns', 'exec', name, ...args]),
    remove,
  };
}

/**
 * Starts a peer on a port from `freePort` (inside `start`), again on new ports if another process
 * took the port first: the peer then exits with "Address already in use", which `waitFor` and
 * `pollUntil` put in their error.
 */
export async function retryPortClash<T>(start: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= attempts || !/Address already in use/i.test((err as Error).message)) throw err;
    }
  }
}

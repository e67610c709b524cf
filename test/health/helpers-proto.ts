// Real protocol peers for the monitor tests (dnsmasq, FreeRADIUS, SIPp): free loopback ports,
// temporary directories, child processes that are waited for by their output and stopped by PID
// (also in `after`, whatever happened), and small commands such as `ip netns`.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { promisify } from 'node:util';
import type { MonitorCommon } from '../../src/config/health-types.ts';
import type { CheckTarget } from '../../src/health/monitor.ts';

const exec = promisify(execFile);

// Everything a helper starts or creates is undone here at the end of the test file, whatever
// happened; suites also undo their own in their `after`, sooner. (A helper cannot call `after`
// itself: called inside a `before` hook, node:test runs it as soon as that hook ends.)
const undo = new Set<() => Promise<unknown>>();
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

/** The fields every monitor config has; the monitors themselves do not use them. */
export const COMMON: MonitorCommon = { interval: 1000, fastInterval: 500, timeout: 1000, rise: 1, fall: 1, port: null };

export function loopback(port: number, ip = '127.0.0.1'): CheckTarget {
  return { host: ip, ip, port };
}

async function bindUdp(port: number, ip: string): Promise<dgram.Socket | null> {
  const socket = dgram.createSocket(net.isIPv6(ip) ? 'udp6' : 'udp4');
  try {
    socket.bind(port, ip);
    await once(socket, 'listening');
    return socket;
  } catch {
    socket.close();
    return null;
  }
}

/**
 * A loopback port free for both TCP and UDP right now (bound, then closed), for a peer to be
 * started on. `span` > 1 asks that the ports after it are free too (SIPp binds port and port+2).
 */
export async function freePort(ip = '127.0.0.1', span = 1): Promise<number> {
  for (;;) {
    const server = net.createServer();
    server.listen(0, ip);
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const udp: dgram.Socket[] = [];
    let ok = port + span <= 65535;
    for (let p = port; ok && p < port + span; p++) {
      const socket = await bindUdp(p, ip);
      if (socket === null) ok = false;
      else udp.push(socket);
    }
    for (const socket of udp) socket.close();
    server.close();
    await once(server, 'close');
    if (ok) return port;
  }
}

/** A temporary directory, removed at the end of the file. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `furiwake-${prefix}-`));
  atEnd(() => rm(dir, { recursive: true, force: true }));
  return dir;
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

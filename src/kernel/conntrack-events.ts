// `conntrack -E`: the kernel's connection events as they happen, one line each, from a child
// process that runs for as long as someone listens. passive.ts needs it for the one failure a
// listing never shows: a connection the member reset before answering is destroyed by conntrack
// at once (it keeps no entry for a SYN answered with a reset), so only its DESTROY event tells.
// A process that exits (conntrack killed, module reloaded) is started again after a pause, which
// doubles while it keeps exiting soon after its start (no permission, no event support in the
// kernel: one warning a second otherwise, for ever), up to a minute.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.ts';
import { conntrackLine, readEventLine, type ConntrackLine } from './conntrack.ts';

/** ms before a conntrack -E that exited is started again; doubled at each exit up to the most */
const RESTART_DELAY = 1_000;
/** the longest pause; a process that ran this long starts the next from RESTART_DELAY again */
const MAX_RESTART_DELAY = 60_000;
/** bytes of an unfinished line kept: past it the line is not conntrack's and is dropped */
const MAX_PARTIAL = 8192;

export class ConntrackEvents {
  readonly #log: Logger;
  readonly #visit: (line: Readonly<ConntrackLine>) => void;
  readonly #record = conntrackLine();
  #child: ChildProcess | null = null;
  #restart: NodeJS.Timeout | null = null;
  #conntrack = '';
  #args: readonly string[] = [];
  #partial = '';
  #delay = RESTART_DELAY;
  #startedAt = 0;

  /** `visit` reads each event's line and must not keep it (one record serves them all). */
  constructor(log: Logger, visit: (line: Readonly<ConntrackLine>) => void) {
    this.#log = log;
    this.#visit = visit;
  }

  /** Listens with these arguments (`-E ...`); a running process with other ones is replaced. */
  listen(conntrack: string, args: readonly string[]): void {
    if (this.#child !== null && conntrack === this.#conntrack && args.join(' ') === this.#args.join(' ')) return;
    this.stop();
    this.#conntrack = conntrack;
    this.#args = args;
    this.#delay = RESTART_DELAY;
    this.#start();
  }

  stop(): void {
    if (this.#restart !== null) clearTimeout(this.#restart);
    this.#restart = null;
    const child = this.#child;
    this.#child = null;
    if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  #start = (): void => {
    this.#restart = null;
    this.#partial = '';
    this.#startedAt = Date.now();
    let child: ChildProcess;
    try {
      // throws on arguments it cannot pass; out of descriptors, it returns a child without pipes
      child = spawn(this.#conntrack, this.#args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      this.#log.warn({ reason: (err as Error).message }, 'kernel: conntrack -E did not start');
      return this.#again(null, null, '');
    }
    child.on('error', (err) => this.#log.warn({ reason: err.message }, 'kernel: conntrack -E did not start'));
    if (child.stdout === null || child.stderr === null) return this.#again(null, null, 'no pipes (out of file descriptors?)');
    this.#child = child;
    this.#log.debug({ args: this.#args }, 'kernel: listening to conntrack events');
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      try {
        this.#read(chunk);
      } catch (err) {
        this.#log.error({ err }, 'kernel: a conntrack event could not be read');
      }
    });
    let said = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (said.length < 1000) said += chunk;
    });
    child.on('close', (code, signal) => {
      if (this.#child !== child) return;
      this.#child = null;
      this.#again(code, signal, said.trim());
    });
  };

  /** The process ended, or could not start: it is started again after the pause. */
  #again(code: number | null, signal: NodeJS.Signals | null, said: string): void {
    if (Date.now() - this.#startedAt >= MAX_RESTART_DELAY) this.#delay = RESTART_DELAY;
    const delay = this.#delay;
    this.#delay = Math.min(delay * 2, MAX_RESTART_DELAY);
    this.#log.warn({ code, signal, said, again: `${delay / 1000} s` }, 'kernel: conntrack -E ended; starting it again');
    this.#restart = setTimeout(this.#start, delay);
    this.#restart.unref();
  }

  #read(chunk: string): void {
    let text = this.#partial + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      if (readEventLine(text.slice(start, nl), this.#record)) this.#visit(this.#record);
      start = nl + 1;
    }
    text = text.slice(start);
    this.#partial = text.length > MAX_PARTIAL ? '' : text;
  }
}

// Reading keepalived's notify FIFO without blocking the event loop: the FIFO is opened
// read-write and non-blocking (so opening never waits for a writer, and a keepalived that restarts
// never gives us an end of file) and read through a net.Socket on its descriptor, as libuv reads
// any pipe. Lines are bounded; each one is parsed, and a line that does not parse is counted and
// logged, never thrown.

import { execFile } from 'node:child_process';
import { constants, lstatSync, openSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { promisify } from 'node:util';
import { MAX_NOTIFY_LINE, parseNotifyLine, type NotifyEvent } from './notify-line.ts';

const run = promisify(execFile);

export interface NotifyHandlers {
  event(event: NotifyEvent): void;
  rejected(reason: string, line: string): void;
}

/** Makes `path` a FIFO (Node has no mkfifo: coreutils' does it), replacing whatever else is there. */
export async function makeFifo(path: string): Promise<void> {
  try {
    if (lstatSync(path).isFIFO()) return;
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await run('mkfifo', ['-m', '600', path]);
}

export class NotifyFifo {
  readonly #socket: Socket;
  readonly #handlers: NotifyHandlers;
  #pending = '';
  /** inside a line longer than the bound: skip to its end */
  #skipping = false;
  rejected = 0;

  constructor(path: string, handlers: NotifyHandlers) {
    this.#handlers = handlers;
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    this.#socket = new Socket({ fd, readable: true, writable: false });
    this.#socket.setEncoding('latin1');
    this.#socket.on('data', (chunk: string) => this.#take(chunk));
    // a read error ends the reader; the supervisor's status shows keepalived's process either way
    this.#socket.on('error', (err) => handlers.rejected(`the FIFO could not be read: ${err.message}`, ''));
  }

  #take(chunk: string): void {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf('\n', start);
      if (end < 0) break;
      const piece = chunk.slice(start, end);
      start = end + 1;
      if (this.#skipping) {
        this.#skipping = false;
        this.#pending = '';
        continue;
      }
      this.#line(this.#pending + piece);
      this.#pending = '';
    }
    if (this.#skipping) return;
    this.#pending += chunk.slice(start);
    if (this.#pending.length > MAX_NOTIFY_LINE) {
      this.#reject(`a line longer than ${MAX_NOTIFY_LINE} characters`, this.#pending);
      this.#pending = '';
      this.#skipping = true;
    }
  }

  #line(line: string): void {
    const parsed = parseNotifyLine(line);
    if (parsed.ok) this.#handlers.event(parsed.event);
    else this.#reject(parsed.reason, line);
  }

  #reject(reason: string, line: string): void {
    this.rejected++;
    this.#handlers.rejected(reason, line.slice(0, 80));
  }

  close(): void {
    this.#socket.destroy();
  }
}

// A log file: opened for appending (so logrotate's copytruncate and other writers work), written
// from a bounded buffer in the background, reopened by path on SIGUSR1 after logrotate renamed it.
// A write that fails (disk full, file system gone) loses the lines it carried: counted, said once.

import { closeSync, openSync, write as writeFd } from 'node:fs';
import type { LogKind, LogSink, SinkProblem } from './sink.ts';

export class FileSink implements LogSink {
  readonly path: string;
  dropped = 0;
  readonly #limit: number;
  readonly #problem: SinkProblem;
  #fd: number;
  #pending: string[] = [];
  #pendingBytes = 0;
  /** a write is in flight: the next waits for it (one writer keeps lines in order) */
  #writing = false;
  /** the fd to close once the write in flight is done (a reopen while writing) */
  #retired = -1;
  #failing = false;
  #closed = false;
  #idle: (() => void) | null = null;
  /** a write is due after this turn of the loop */
  #scheduled = false;

  /** Opens `path` now (throws when it cannot: the caller names the config key). */
  constructor(path: string, limit: number, problem: SinkProblem) {
    this.path = path;
    this.#limit = limit;
    this.#problem = problem;
    this.#fd = openSync(path, 'a', 0o640);
  }

  write(line: string, _severity: number, _kind: LogKind): void {
    // bytes counted as UTF-16 units: a bound, not an exact size
    if (this.#closed || this.#pendingBytes + line.length + 1 > this.#limit) {
      this.dropped++;
      return;
    }
    this.#pending.push(line + '\n');
    this.#pendingBytes += line.length + 1;
    // the lines of one turn of the loop go out in one write, after it (not one write per line)
    if (!this.#writing && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushLater);
    }
  }

  reopen(): string | null {
    if (this.#closed) return null;
    let fd: number;
    try {
      fd = openSync(this.path, 'a', 0o640);
    } catch (err) {
      // the old file stays in use: lines still land somewhere
      return `cannot reopen ${this.path}: ${(err as Error).message}`;
    }
    // the file a write is in flight to closes once it is done; one reopened since is not in use
    if (this.#writing && this.#retired === -1) this.#retired = this.#fd;
    else closeQuietly(this.#fd);
    this.#fd = fd;
    return null;
  }

  close(): Promise<void> {
    this.#closed = true;
    if (!this.#writing && this.#pending.length === 0) {
      closeQuietly(this.#fd);
      return Promise.resolve();
    }
    if (!this.#writing) this.#flush();
    return new Promise((resolve) => (this.#idle = resolve));
  }

  readonly #flushLater = (): void => {
    this.#scheduled = false;
    if (!this.#writing && this.#pending.length > 0) this.#flush();
  };

  #flush(): void {
    const lines = this.#pending.length;
    const data = Buffer.from(lines === 1 ? this.#pending[0] : this.#pending.join(''));
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#writing = true;
    this.#writeAll(data, 0, lines);
  }

  #writeAll(data: Buffer, offset: number, lines: number): void {
    writeFd(this.#fd, data, offset, data.length - offset, null, (err, written) => {
      if (err === null && offset + written < data.length) return this.#writeAll(data, offset + written, lines);
      if (err !== null) {
        this.dropped += lines;
        if (!this.#failing) this.#problem('cannot write a log file; its lines are dropped until it can', { file: this.path, reason: err.message });
        this.#failing = true;
      } else if (this.#failing) {
        this.#failing = false;
        this.#problem('log file written again', { file: this.path, dropped: this.dropped });
      }
      this.#writing = false;
      if (this.#retired !== -1) {
        closeQuietly(this.#retired);
        this.#retired = -1;
      }
      if (this.#pending.length > 0) return this.#flush();
      if (this.#closed) {
        closeQuietly(this.#fd);
        this.#idle?.();
      }
    });
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed, or the file system is gone: nothing more to lose
  }
}


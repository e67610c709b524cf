// The log destinations of one thread (the main thread, or one worker thread): where the process
// log goes, and the access log with its compiled format. Each thread opens its own file
// descriptors and sockets (files are appended to, so the threads' lines do not overlap), follows
// every config it is given, and reopens its files when told (SIGUSR1, through the main thread).

import { isDeepStrictEqual } from 'node:util';
import type { LogsConfig, LogTarget, SyslogConfig } from '../config/logs-types.ts';
import { AccessFormat, type AccessEntry, type AccessTimes } from './access-format.ts';
import { FileSink } from './file-sink.ts';
import { LogKind, Severity, type LogSink, type SinkProblem } from './sink.ts';
import { SyslogSink } from './syslog-sink.ts';

/** What a file buffers while the disk is slow (bytes); beyond it lines are dropped and counted. */
const FILE_BUFFER = 4 * 1024 * 1024;

/** pino's levels as syslog severities. */
function severityOf(level: number): number {
  if (level >= 60) return Severity.CRITICAL;
  if (level >= 50) return Severity.ERROR;
  if (level >= 40) return Severity.WARNING;
  if (level >= 30) return Severity.INFO;
  return Severity.DEBUG;
}

/** The access log of a config: its format and where its lines go. */
export class AccessLog {
  readonly #format: AccessFormat;
  readonly #sink: LogSink;

  constructor(format: AccessFormat, sink: LogSink) {
    this.#format = format;
    this.#sink = sink;
  }

  write(entry: AccessEntry, times: AccessTimes, total: number): void {
    this.#sink.write(this.#format.render(entry, times, total), Severity.INFO, LogKind.ACCESS);
  }
}

/** stdout (or the stream a logger was made with): the process log's lines as pino wrote them. */
class StdoutSink implements LogSink {
  readonly dropped = 0;
  readonly #out: { write(text: string): unknown };

  constructor(out: { write(text: string): unknown }) {
    this.#out = out;
  }

  write(line: string): void {
    this.#out.write(line + '\n');
  }

  reopen(): null {
    return null;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class LogOutputs {
  /** the access log; null: requests are info lines of the process log (no logs.access) */
  access: AccessLog | null = null;
  /** what pino writes the process log to: forwards to the sink in force */
  readonly process: { write(chunk: string): void };
  readonly #stdout: LogSink;
  /** the sink of the process log; the stdout one passes pino's text as it is */
  #processSink: LogSink;
  /** open sinks by destination ('stdout', 'file:/path', 'syslog') */
  #sinks = new Map<string, LogSink>();
  /** lines dropped by sinks closed since */
  #droppedBefore = 0;
  /** told of a sink's trouble (the process log, once it exists) */
  problem: SinkProblem = () => {};

  /** `out`: standard output; `processOut`: where the process log's events go on it (log.ts: readable lines on a terminal). */
  constructor(out: { write(text: string): unknown }, processOut: { write(text: string): unknown } = out) {
    this.#stdout = new StdoutSink(out);
    this.#processSink = this.#stdout;
    this.#sinks.set('stdout', this.#stdout);
    this.process = {
      write: (chunk: string): void => {
        const sink = this.#processSink;
        if (sink === this.#stdout) {
          processOut.write(chunk);
          return;
        }
        // pino's lines start {"level":NN, and end with a newline
        const level = chunk.startsWith('{"level":') ? Number.parseInt(chunk.slice(9, 11), 10) : 30;
        sink.write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk, severityOf(level), LogKind.PROCESS);
      },
    };
  }

  /**
   * Follows `logs` (absent: stdout, requests in the process log). When a file or server cannot
   * be opened, the logs stay as they were and the reasons are returned, one line each.
   */
  apply(logs: LogsConfig | undefined): string[] {
    const failures: string[] = [];
    const next = new Map<string, LogSink>([['stdout', this.#stdout]]);
    const opened: LogSink[] = [];
    const open = (target: LogTarget, key: string): LogSink => {
      const id = target.kind === 'file' ? `file:${target.path}` : target.kind;
      const have = next.get(id) ?? this.#reusable(id, logs?.syslog ?? null);
      if (have !== null) {
        next.set(id, have);
        return have;
      }
      try {
        const sink = target.kind === 'file' ? new FileSink(target.path, FILE_BUFFER, this.#tell) : new SyslogSink(logs!.syslog!, this.#tell);
        next.set(id, sink);
        opened.push(sink);
        return sink;
      } catch (err) {
        failures.push(`${key}: cannot open ${id.slice(5)}: ${(err as Error).message}`);
        return this.#stdout;
      }
    };
    const processSink = open(logs?.process.to ?? { kind: 'stdout' }, 'logs.process.to');
    const accessSink = logs?.access == null ? null : open(logs.access.to, 'logs.access.to');
    if (failures.length > 0) {
      for (const sink of opened) void sink.close();
      return failures;
    }
    this.#processSink = processSink;
    this.access = logs?.access == null || accessSink === null ? null : new AccessLog(new AccessFormat(logs.access), accessSink);
    // a sink no log uses now closes once it has written what it holds
    for (const [id, sink] of this.#sinks) {
      if (next.get(id) === sink) continue;
      this.#droppedBefore += sink.dropped;
      void sink.close();
    }
    this.#sinks = next;
    return failures;
  }

  /** Reopens every log file (after logrotate renamed them); returns what could not be, one line each. */
  reopen(): string[] {
    const failures: string[] = [];
    for (const sink of this.#sinks.values()) {
      const failure = sink.reopen();
      if (failure !== null) failures.push(failure);
    }
    return failures;
  }

  /** Lines lost by this thread's sinks (full buffers, failed writes, an unreachable server). */
  get dropped(): number {
    let n = this.#droppedBefore;
    for (const sink of this.#sinks.values()) n += sink.dropped;
    return n;
  }

  /** Writes what is buffered and lets go of the files and sockets (at the end of the process or thread). */
  async close(): Promise<void> {
    this.#processSink = this.#stdout;
    this.access = null;
    const sinks = [...this.#sinks.values()];
    this.#sinks = new Map([['stdout', this.#stdout]]);
    for (const sink of sinks) this.#droppedBefore += sink.dropped;
    await Promise.all(sinks.map((s) => s.close()));
  }

  readonly #tell: SinkProblem = (message, detail) => {
    try {
      this.problem(message, detail);
    } catch {
      // telling must not fail the write that found the trouble
    }
  };

  /** The open sink for `id`, when it can serve the new config as it is (a syslog sink: the same server settings). */
  #reusable(id: string, syslog: SyslogConfig | null): LogSink | null {
    const sink = this.#sinks.get(id);
    if (sink === undefined) return null;
    if (sink instanceof SyslogSink && !isDeepStrictEqual(sink.config, syslog)) return null;
    return sink;
  }
}

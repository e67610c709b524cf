// Structured logs: one JSON line per event (pino). On a terminal the same events are printed
// as short readable lines instead, without pulling in a pretty-printer. Where the lines go (and
// the access log) is the logger's LogOutputs (log/outputs.ts): stdout until a config's `logs`
// section says otherwise; the logger's children share it.

import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config/types.ts';
import { LogOutputs } from './log/outputs.ts';

export type { Logger };

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function readable(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(chunk.toString()) as Record<string, unknown>;
      } catch {
        // not an event of the process log: written as it is
        out.write(chunk);
        return done();
      }
      const time = new Date(event.time as number).toISOString().slice(11, 23);
      const level = (LEVEL_NAMES[event.level as number] ?? String(event.level)).padEnd(5);
      let line = `${time} ${level} ${String(event.msg ?? '')}`;
      for (const [key, value] of Object.entries(event)) {
        if (HIDDEN.has(key)) continue;
        line += ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
      }
      out.write(line + '\n');
      done();
    },
  });
}

/** Outputs that already have their error handler (one each, however many loggers write to them). */
const guarded = new WeakSet<NodeJS.WritableStream>();

export function createLogger(level: LogLevel = 'info', out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): Logger {
  // A log reader that goes away (EPIPE on a closed pipe) must not stop the balancer: logs are lost, traffic is not.
  if (out !== process.stderr && !guarded.has(out)) {
    guarded.add(out);
    out.on('error', () => {});
  }
  // access lines go to `out` as they are; the process log's events, readable on a terminal
  const outputs = new LogOutputs(out, out.isTTY === true ? readable(out) : out);
  const log = pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.epochTime }, outputs.process);
  attach(log, outputs);
  return log;
}

const OUTPUTS = Symbol('furiwake log outputs');
type Carrier = Logger & { [OUTPUTS]?: LogOutputs };

function attach(log: Logger, outputs: LogOutputs): void {
  (log as Carrier)[OUTPUTS] = outputs;
  // a destination's trouble is told in the process log (lost too if that is the one in trouble)
  outputs.problem = (message, detail) => log.warn(detail, message);
}

/**
 * The destinations of `log` and its children (a child logger's prototype is its parent). A
 * logger not made by createLogger (a test's) gets its own, on its own stdout, the first time.
 */
export function logOutputs(log: Logger): LogOutputs {
  const found = (log as Carrier)[OUTPUTS];
  if (found !== undefined) return found;
  const outputs = new LogOutputs(process.stdout);
  attach(log, outputs);
  return outputs;
}

/** The access log of `log`'s thread; null: requests are info lines of the process log. On every logged request. */
export function accessLogOf(log: Logger): LogOutputs['access'] {
  return (log as Carrier)[OUTPUTS]?.access ?? null;
}

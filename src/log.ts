// Structured logs: one JSON line per event (pino). On a terminal the same events are printed
// as short readable lines instead, without pulling in a pretty-printer.

import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config/types.ts';

export type { Logger };

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function readable(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const event = JSON.parse(chunk.toString()) as Record<string, unknown>;
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
  const destination = out.isTTY === true ? readable(out) : out;
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.epochTime }, destination);
}

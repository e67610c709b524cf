import { Writable } from 'node:stream';
import { after } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';
import { createLogger } from '../../src/log.ts';

/** Starts furiwake on a config; it is stopped when the test file ends. */
export async function startApp(config: Config): Promise<Furiwake> {
  const app = await Furiwake.start(config, createLogger('silent'));
  after(() => app.stop(0));
  return app;
}

/** Open handles, after two loop turns: libuv finishes closing a handle in the close phase that follows. */
export async function handles(): Promise<string[]> {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'FSReqCallback').sort();
}

/** A log destination that keeps each JSON line written to it, parsed. */
export function logSink(): { sink: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { sink, lines };
}

/** Polls a condition once per turn of the event loop (no timer), for states that emit no event. */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

import { Writable } from 'node:stream';
import { after } from 'node:test';
import { Furiwake, type StartOptions } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';
import { createLogger } from '../../src/log.ts';
import type { Member } from '../../src/runtime/member.ts';
import { until } from './wait.ts';

/** Starts furiwake on a config; it is stopped when the test file ends. */
export async function startApp(config: Config, options: StartOptions = {}): Promise<Furiwake> {
  const app = await Furiwake.start(config, createLogger('silent'), options);
  after(() => app.stop(0));
  return app;
}

/** A log destination that keeps each JSON line written to it, parsed (and emits 'line' after each write, for until()). */
export function logSink(): { sink: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
      sink.emit('line');
      done();
    },
  });
  return { sink, lines };
}

/** The member once `test(member)` holds (health, agent, weight ...): checked now and at each member change the runtime announces. */
export async function memberReaches(app: Furiwake, pool: string, id: string, test: (m: Member) => boolean): Promise<Member> {
  const member = app.runtime.member(pool, id);
  if (member === undefined) throw new Error(`no member ${pool}/${id}`);
  await until(() => test(member), app.runtime.events, 'member');
  return member;
}

export function memberHealth(app: Furiwake, pool: string, id: string, state: Member['health']): Promise<Member> {
  return memberReaches(app, pool, id, (m) => m.health === state);
}

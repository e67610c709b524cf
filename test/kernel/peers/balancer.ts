// furiwake in-process in the balancer namespace, for the tests that read and drive its runtime:
//   node balancer.ts CONFIG-FILE
// Logs go to stderr (JSON lines); stdout carries one JSON answer per command read on stdin:
//   {"id":1,"op":"connections","service":"www"} -> {"id":1,"ok":true,"rows":[...]}   member as its id
//   {"id":2,"op":"sticky","service":"www"}      -> {"id":2,"ok":true,"entries":[...]}
//   {"id":3,"op":"admin","pool":"web","member":"10.88.2.11:80","state":"disabled"}
//       -> {"id":3,"ok":true} once the ruleset with the change is in the kernel
//   {"id":4,"op":"limits"}                      -> {"id":4,"ok":true} once max-connections are counted
//                                                  and the ruleset reflects the count
//   {"id":5,"op":"stop"}                        -> {"id":5,"ok":true}, then the process exits

import { createInterface } from 'node:readline';
import { Furiwake } from '../../../src/app.ts';
import { loadConfig } from '../../../src/config/load.ts';
import type { AdminState } from '../../../src/runtime/events.ts';
import { createLogger } from '../../../src/log.ts';
import type { KernelPlane } from '../../../src/kernel/plane.ts';

interface Command { id: number; op: string; service?: string; pool?: string; member?: string; state?: AdminState }

const config = await loadConfig(process.argv[2]);
const app = await Furiwake.start(config, createLogger('debug', process.stderr));
const answer = (id: number, body: Record<string, unknown>): void => void process.stdout.write(JSON.stringify({ id, ok: true, ...body }) + '\n');
// The runtime's kernel view is the plane itself, which can also say when a change is applied.
const kernel = app.runtime.kernel as KernelPlane;

async function run(c: Command): Promise<Record<string, unknown>> {
  switch (c.op) {
    case 'connections': {
      const rows = await kernel.connections({ service: c.service });
      return { rows: rows.map((r) => ({ ...r, member: r.member?.id ?? null })) };
    }
    case 'sticky': {
      const entries = await kernel.sticky(c.service!);
      return { entries: entries.map((e) => ({ ...e, member: e.member?.id ?? null })) };
    }
    case 'admin': {
      const member = app.runtime.member(c.pool!, c.member!);
      if (member === undefined) throw new Error(`no member ${c.pool}/${c.member}`);
      member.setAdmin(c.state!);
      const error = await kernel.update();
      if (error !== null) throw error;
      return {};
    }
    case 'limits': {
      const error = await kernel.checkLimits();
      if (error !== null) throw error;
      return {};
    }
    case 'stop':
      await app.stop(0);
      setImmediate(() => process.exit(0));
      return {};
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

createInterface({ input: process.stdin }).on('line', (text) => {
  const c = JSON.parse(text) as Command;
  run(c).then((body) => answer(c.id, body), (err: Error) => process.stdout.write(JSON.stringify({ id: c.id, ok: false, error: err.message }) + '\n'));
});
answer(0, { ready: true });

// Access lines on standard output, beside the process log: as they are, on a pipe and on a
// terminal (where the process log's events are printed as readable lines).

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { parseTemplate } from '../../src/config/log-fields.ts';
import { Furiwake } from '../../src/app.ts';
import { createLogger } from '../../src/log.ts';
import { pool } from '../helpers/config.ts';
import { until } from '../helpers/wait.ts';
import { httpConfig, startMember } from '../proxy/http/helpers.ts';
import { get } from './helpers.ts';

function output(tty: boolean): { out: Writable & { isTTY?: boolean }; text: () => string } {
  let text = '';
  const out: Writable & { isTTY?: boolean } = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      out.emit('line');
      done();
    },
  });
  if (tty) out.isTTY = true;
  return { out, text: () => text };
}

describe('access lines on standard output', () => {
  for (const tty of [false, true]) {
    it(`are written as they are beside the process log (${tty ? 'a terminal' : 'a pipe'})`, async () => {
      const m = await startMember('a');
      const parsed = parseTemplate('ACCESS $method $path $status');
      assert.ok(parsed.ok);
      const { out, text } = output(tty);
      const config = { ...httpConfig(pool('round-robin', [{ port: m.port }])), logs: { access: { format: 'line' as const, fields: [], template: parsed.parts, to: { kind: 'stdout' as const } }, process: { to: { kind: 'stdout' as const } }, syslog: null } };
      const app = await Furiwake.start(config, createLogger('info', out));
      try {
        assert.equal(await get(app.address('svc').port, '/x'), 200);
        await until(() => text().includes('ACCESS GET /x 200\n'), out, 'line');
        const applied = text().split('\n').find((l) => l.includes('config applied'))!;
        if (tty) assert.match(applied, /^\d\d:\d\d:\d\d\.\d{3} INFO  config applied/);
        else assert.equal(JSON.parse(applied).msg, 'config applied');
      } finally {
        await app.stop(0);
      }
    });
  }
});

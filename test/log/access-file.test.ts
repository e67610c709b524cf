// Access log lines to a file, in a line format and as JSON, in one loop and in two worker
// threads; a reload changes the format and the file; a file that cannot be opened is refused.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { parseTemplate } from '../../src/config/log-fields.ts';
import type { AccessLogConfig, LogsConfig } from '../../src/config/logs-types.ts';
import type { Config } from '../../src/config/types.ts';
import { Furiwake } from '../../src/app.ts';
import { createLogger } from '../../src/log.ts';
import { startApp } from '../helpers/app.ts';
import { pool } from '../helpers/config.ts';
import { tempDir } from '../helpers/files.ts';
import { httpConfig, startMember } from '../proxy/http/helpers.ts';
import { fileLines, get } from './helpers.ts';

function lineLog(template: string, file: string): LogsConfig {
  const parsed = parseTemplate(template);
  if (!parsed.ok) throw new Error(parsed.message);
  return { access: { format: 'line', fields: [], template: parsed.parts, to: { kind: 'file', path: file } }, process: { to: { kind: 'stdout' } }, syslog: null };
}

function jsonLog(fields: AccessLogConfig['fields'], file: string): LogsConfig {
  return { access: { format: 'json', fields, template: [], to: { kind: 'file', path: file } }, process: { to: { kind: 'stdout' } }, syslog: null };
}

async function config(logs: LogsConfig, workers?: number): Promise<Config> {
  const m = await startMember('a');
  const c = httpConfig(pool('round-robin', [{ port: m.port, id: 'm1' }]));
  return { ...c, global: { ...c.global, ...(workers === undefined ? {} : { workers }) }, logs };
}

describe('access log to a file', () => {
  it('writes the line format, whatever the process log level (one loop)', async () => {
    const file = join(await tempDir('access'), 'access.log');
    const app = await startApp(await config(lineLog('$client "$method $path $protocol" $status $member $service $route', file)));
    const port = app.address('svc').port;
    assert.equal(await get(port, '/one?x=1'), 200);
    assert.equal(await get(port, '/two'), 200);
    assert.deepEqual(await fileLines(file, 2), [
      '127.0.0.1 "GET /one?x=1 HTTP/1.1" 200 m1 svc -',
      '127.0.0.1 "GET /two HTTP/1.1" 200 m1 svc -',
    ]);
  });

  it('writes JSON with the chosen fields, from both worker threads', async () => {
    const file = join(await tempDir('access'), 'access.json');
    const app = await startApp(await config(jsonLog(['method', 'path', 'status', 'member', 'protocol'], file), 2));
    const port = app.address('svc').port;
    // new connections until each worker has served some (the kernel spreads them by address and port)
    const paths: string[] = [];
    const bothServed = async () => (await app.workers!.stats()).every((w) => (w.served['p/m1'] ?? 0) > 0);
    while (paths.length < 4 || (!(await bothServed()) && paths.length < 500)) {
      paths.push(`/r${paths.length}`);
      assert.equal(await get(port, paths.at(-1)!), 200);
    }
    assert.ok(await bothServed());
    const lines = await fileLines(file, paths.length);
    assert.deepEqual(lines.sort(), paths.map((p) => `{"method":"GET","path":"${p}","status":200,"member":"m1","protocol":"HTTP/1.1"}`).sort());
  });

  it('follows a reload to another format and file, and refuses a file it cannot open', async () => {
    const dir = await tempDir('access');
    const first = join(dir, 'first.log');
    const second = join(dir, 'second.log');
    const c = await config(lineLog('first $path', first));
    const app = await Furiwake.start(c, createLogger('silent'));
    try {
      const port = app.address('svc').port;
      await get(port, '/a');
      assert.deepEqual(await fileLines(first, 1), ['first /a']);
      assert.deepEqual(await app.reload({ ...c, logs: jsonLog(['path'], second) }), []);
      await get(port, '/b');
      assert.deepEqual(await fileLines(second, 1), ['{"path":"/b"}']);
      const problems = await app.reload({ ...c, logs: lineLog('third $path', join(dir, 'missing', 'x.log')) });
      assert.equal(problems.length, 1);
      assert.match(problems[0], /^logs\.access\.to: cannot open .*missing\/x\.log: ENOENT/);
      // the logs in force stay
      await get(port, '/c');
      assert.deepEqual(await fileLines(second, 2), ['{"path":"/b"}', '{"path":"/c"}']);
      assert.deepEqual(await fileLines(first, 1), ['first /a']);
    } finally {
      await app.stop(0);
    }
    // a start with a file it cannot open fails
    await assert.rejects(Furiwake.start({ ...c, logs: lineLog('$path', join(dir, 'missing', 'y.log')) }, createLogger('silent')), /logs\.access\.to: cannot open/);
  });
});

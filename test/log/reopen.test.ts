// logrotate's way: the access log file is renamed, SIGUSR1 goes to the process, and every
// thread (here two workers) writes its next lines to a new file of the first name. The process
// log can go to a file of its own too.

import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { furiwake } from '../helpers/process.ts';
import { tempDir } from '../helpers/files.ts';
import { startMember } from '../proxy/http/helpers.ts';
import { fileLines, get } from './helpers.ts';

describe('SIGUSR1', () => {
  it('reopens the log files in every worker thread after they were renamed', async () => {
    const dir = await tempDir('reopen');
    const access = join(dir, 'access.log');
    const processLog = join(dir, 'furiwake.log');
    const m = await startMember('a');
    const cfg = join(dir, 'furiwake.yaml');
    await writeFile(cfg, `global: { workers: 2, log-level: info }
logs:
  access: { line: '$method $path $status $member', to: 'file:${access}' }
services:
  www: { listen: 127.0.0.1:0, mode: http, pool: web }
pools:
  web: { members: [ { address: 127.0.0.1:${m.port}, id: m1 } ] }
`);
    // registered before the helper's own hook (which kills what is left): a graceful stop first
    after(async () => {
      run.child.kill('SIGTERM');
      assert.equal(await run.exit(), 0);
    });
    const run = furiwake(['start', '-c', cfg]);
    const port = (await run.event('service listening')).port as number;
    const before = Array.from({ length: 6 }, (_, i) => `/before-${i}`);
    for (const path of before) assert.equal(await get(port, path), 200);
    assert.deepEqual((await fileLines(access, before.length)).sort(), before.map((p) => `GET ${p} 200 m1`).sort());

    // logrotate renames the file, then signals; each worker says when it has reopened
    await rename(access, `${access}.1`);
    run.child.kill('SIGUSR1');
    await run.event('SIGUSR1: log files reopened');
    await run.line(() => run.stdout.split('\n').filter((l) => l.includes('"msg":"log files reopened"')).length === 2);
    const workers = run.stdout.split('\n').filter((l) => l.includes('"msg":"log files reopened"')).map((l) => JSON.parse(l).worker as number);
    assert.deepEqual(workers.sort(), [0, 1]);

    const afterPaths = Array.from({ length: 12 }, (_, i) => `/after-${i}`);
    for (const path of afterPaths) assert.equal(await get(port, path), 200);
    assert.deepEqual((await fileLines(access, afterPaths.length)).sort(), afterPaths.map((p) => `GET ${p} 200 m1`).sort());
    // the renamed file kept what was written before, and nothing after
    assert.deepEqual((await fileLines(`${access}.1`, before.length)).sort(), before.map((p) => `GET ${p} 200 m1`).sort());

    // a reload sends the process log to a file too (reopened the same way)
    await writeFile(cfg, (await readFile(cfg, 'utf8')).replace('logs:\n', `logs:\n  process: { to: 'file:${processLog}' }\n`));
    run.child.kill('SIGHUP');
    const applied = (lines: string[]) => lines.some((l) => JSON.parse(l).msg === 'config applied');
    assert.ok(applied(await fileLines(processLog, applied)));
    // and the workers' process logs: each says where it logs from
    run.child.kill('SIGUSR1');
    const reopened = (lines: string[]) => lines.filter((l) => JSON.parse(l).msg === 'log files reopened').length === 2;
    const workerLines = (await fileLines(processLog, reopened)).map((l) => JSON.parse(l)).filter((e) => e.msg === 'log files reopened');
    assert.deepEqual(workerLines.map((e) => e.worker).sort(), [0, 1]);
  });
});

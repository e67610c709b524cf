// global.workers in the real process: SIGHUP reaches every worker (and an invalid file changes
// nothing), SIGTERM lets every worker's live connections finish, then the process exits 0.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { greeted, greeting } from '../helpers/clients.ts';
import { furiwake } from '../helpers/process.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { echo, talk } from './helpers.ts';

it('with 2 workers, SIGHUP reloads every worker and SIGTERM stops them gracefully', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'furiwake-workers-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const a = await startTcpServer('a', echo('a'));
  const b = await startTcpServer('b', echo('b'));
  const config = (port: number, extra = '') => `global: { shutdown-grace: 30s, log-level: info, workers: 2 }
services:
  svc: { listen: 127.0.0.1:0, mode: tcp, pool: p }
pools:
  p:
    members: [ { address: 127.0.0.1:${port} } ]
${extra}`;
  const cfg = path.join(dir, 'workers.yaml');
  await writeFile(cfg, config(a.port));
  const run = furiwake(['start', '-c', cfg]);
  const listening = await run.event('service listening');
  assert.equal(listening.workers, 2);
  const port = listening.port as number;
  // said once every worker is bound (the main thread's own bind only picks the port)

  // live connections on both workers (the kernel spreads them by the client's port)
  const live = await Promise.all(Array.from({ length: 10 }, () => greeted(port)));
  for (const l of live) {
    l.socket.resume();
    l.socket.setEncoding('utf8');
  }

  await writeFile(cfg, config(b.port));
  run.child.kill('SIGHUP');
  await run.event('config applied', 2);
  const after1 = await Promise.all(Array.from({ length: 20 }, () => greeting(port)));
  assert.deepEqual(new Set(after1), new Set(['b']));
  // the connections opened before the reload still talk to a
  for (const l of live) assert.equal(await talk(l.socket, 'still there?'), 'a:still there?');

  await writeFile(cfg, config(b.port, 'bogus: true\n'));
  run.child.kill('SIGHUP');
  await run.event('reload failed; the running config stays');
  assert.equal(await greeting(port), 'b');

  // SIGTERM: the live connections may finish on their workers, then the process exits 0
  run.child.kill('SIGTERM');
  await run.event('stopping: no new connections');
  for (const l of live) assert.equal(await talk(l.socket, 'late'), 'a:late');
  for (const l of live) l.socket.end();
  assert.equal(await run.exit(), 0);
  assert.equal(a.open, 0);
});

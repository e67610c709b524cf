// The tcp stream engine with worker threads: chosen as the one loop chooses it, said once by the
// main thread (its note and the `engine` of each `service listening` line), used by every worker.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { greeting } from '../helpers/clients.ts';
import { furiwake } from '../helpers/process.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';

let dir: string;
let member: TcpServer;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'furiwake-workers-engine-'));
  member = await startTcpServer('m');
});
after(async () => {
  await member.close();
  await rm(dir, { recursive: true, force: true });
});

it('workers: 2 under --pending-deprecation, engine unset: sockets on every worker, said once', { timeout: 20_000 }, async () => {
  const file = path.join(dir, 'engine.yaml');
  await writeFile(file, `global: { workers: 2 }
services:
  a: { listen: 127.0.0.1:0, mode: tcp, pool: p }
  b: { listen: 127.0.0.1:0, mode: tcp, pool: p }
pools:
  p:
    members: [ { address: 127.0.0.1:${member.port} } ]
`);
  const run = furiwake(['start', '-c', file], { node: ['--pending-deprecation', '--throw-deprecation'], env: { FURIWAKE_TCP_ENGINE: '' } });
  await run.event('furiwake started');
  const events = run.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const listening = events.filter((e) => e.msg === 'service listening');
  assert.deepEqual(listening.map((e) => [e.service, e.workers, e.engine]).sort(), [['a', 2, 'sockets'], ['b', 2, 'sockets']]);
  // both workers serve each service (on the engine they chose, without a deprecation throw)
  for (const e of listening) {
    const lines = await Promise.all(Array.from({ length: 20 }, () => greeting(e.port as number)));
    assert.deepEqual(new Set(lines), new Set(['m']));
  }
  run.child.kill('SIGTERM');
  assert.equal(await run.exit(), 0);
  const notes = run.stdout.split('\n').filter((l) => l.includes('"tcp stream engine"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(notes.map((n) => [n.level, n.engine, n.worker]), [[40, 'sockets', undefined]]);
  assert.equal(run.stderr, '');
});

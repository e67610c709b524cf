// global.workers under Node's permission model without --allow-worker (no worker thread may
// start): `auto` runs one loop, an explicit count above 1 is a start error naming the key.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { greeting } from '../helpers/clients.ts';
import { furiwake } from '../helpers/process.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';

const PERMISSION = ['--permission', '--allow-fs-read=*'];
let dir: string;
let member: TcpServer;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'furiwake-permission-'));
  member = await startTcpServer('m');
});
after(async () => {
  await member.close();
  await rm(dir, { recursive: true, force: true });
});

async function config(workers: string): Promise<string> {
  const file = path.join(dir, `workers-${workers}.yaml`);
  await writeFile(file, `global: { workers: ${workers} }
services:
  svc: { listen: 127.0.0.1:0, mode: tcp, pool: p }
pools:
  p:
    members: [ { address: 127.0.0.1:${member.port} } ]
`);
  return file;
}

it('workers: auto, worker threads denied: one loop serves', { timeout: 20_000 }, async () => {
  const run = furiwake(['start', '-c', await config('auto')], { node: PERMISSION });
  const listening = await run.event('service listening');
  assert.equal(listening.workers, undefined);
  assert.equal(await greeting(listening.port as number), 'm');
  run.child.kill('SIGTERM');
  assert.equal(await run.exit(), 0);
});

it('workers: 2, worker threads denied: a start error that names the key and the way out', { timeout: 20_000 }, async () => {
  const run = furiwake(['start', '-c', await config('2')], { node: PERMISSION });
  assert.equal(await run.exit(), 1);
  const fatal = JSON.parse(run.stdout.split('\n').find((l) => l.includes('"cannot start"'))!) as Record<string, unknown>;
  assert.equal(fatal.reason, "global.workers: 2 needs worker threads, which Node's permission model denies: add --allow-worker, or set global.workers to 1");
});

// gRPC through furiwake started from YAML with two worker threads: `member-protocol: h2c` and the
// pool's `http2` keys as written in the file, calls balanced per request over the members.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { furiwake } from '../../helpers/process.ts';
import { call, grpcClient, startGrpcMember } from './grpc-helpers.ts';

it('workers: 2 from YAML: 300 unary calls over two channels spread over 3 grpc servers', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'furiwake-grpc-workers-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const members = await Promise.all(['a', 'b', 'c'].map(startGrpcMember));
  const file = path.join(dir, 'grpc.yaml');
  await writeFile(file, `global: { workers: 2 }
services:
  api: { listen: 127.0.0.1:0, mode: http, pool: grpc, http2: { h2c: true }, access-log: false }
pools:
  grpc:
    algorithm: round-robin
    member-protocol: h2c
    http2: { max-connections-per-member: 2, ping-interval: 10s, ping-timeout: 2s }
    members:
${members.map((m) => `      - { address: 127.0.0.1:${m.port}, id: ${m.name} }`).join('\n')}
`);
  const run = furiwake(['start', '-c', file]);
  await run.event('furiwake started');
  const listening = run.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.msg === 'service listening')!;
  const port = listening.port as number;
  // two channels (two connections): the kernel may give them to either worker
  const clients = [grpcClient(port), grpcClient(port)];
  const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => call(clients[i % 2].Unary, clients[i % 2], `n${i}`)));
  for (const a of answers) assert.ok('ok' in a, JSON.stringify(a));
  for (const m of members) assert.ok(m.calls >= 80 && m.calls <= 120, `${m.name}: ${m.calls}`);
  for (const c of clients) c.close();
  run.child.kill('SIGTERM');
  assert.equal(await run.exit(), 0);
});

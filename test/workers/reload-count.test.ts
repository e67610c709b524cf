// A reload that changes global.workers is refused until a restart, naming the key, and the rest
// of the config is applied. Real servers and clients on loopback.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Config } from '../../src/config/types.ts';
import { startApp } from '../helpers/app.ts';
import { greeting } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import { echo } from './helpers.ts';

function config(member: TcpServer, workers: number, shutdownGrace = 30_000): Config {
  const c = single('tcp', pool('round-robin', [{ port: member.port, id: member.name }]));
  return { ...c, global: { ...c.global, workers, shutdownGrace } };
}

let a: TcpServer;
let b: TcpServer;
before(async () => {
  [a, b] = await Promise.all([startTcpServer('a', echo('a')), startTcpServer('b', echo('b'))]);
});

describe('global.workers changed on a reload', () => {
  it('2 → 3 is refused until a restart, naming the key; the two workers serve the rest of the config', async () => {
    const app = await startApp(config(a, 2));
    const port = app.address('svc').port;
    const problems = await app.reload(config(b, 3));
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^global\.workers: 2 → 3 takes a restart/);
    assert.equal(app.workers!.count, 2);
    const lines = await Promise.all(Array.from({ length: 20 }, () => greeting(port)));
    assert.deepEqual(new Set(lines), new Set(['b']));
    assert.equal((await app.workers!.stats()).length, 2);
  });

  it('1 → 2 is refused until a restart, naming the key; the rest of the config is applied', async () => {
    const app = await startApp(config(a, 1));
    const port = app.address('svc').port;
    const problems = await app.reload(config(b, 2));
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^global\.workers: 1 → 2 takes a restart/);
    assert.equal(app.workers, null);
    assert.equal(await greeting(port), 'b');
  });

  it('2 → 1 is refused until a restart, naming the key; the rest of the config is applied', async () => {
    const app = await startApp(config(a, 2));
    const port = app.address('svc').port;
    const problems = await app.reload(config(b, 1));
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^global\.workers: 2 → 1 takes a restart/);
    assert.equal(app.workers!.count, 2);
    const lines = await Promise.all(Array.from({ length: 20 }, () => greeting(port)));
    assert.deepEqual(new Set(lines), new Set(['b']));
  });
});

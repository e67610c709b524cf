// A reload that changes global.workers: between counts above 1 the worker threads grow or shrink
// (new ones bind beside the others, those beyond the count finish their connections within the
// shutdown grace and leave); between 1 and more the change is refused until a restart, naming the
// key, and the rest of the config is applied. Real servers and clients on loopback.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { before, describe, it } from 'node:test';
import type { Config } from '../../src/config/types.ts';
import { startApp } from '../helpers/app.ts';
import { greeted, greeting } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';
import { echo, servedPerWorker, talk } from './helpers.ts';

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
  it('2 → 3: a new worker gets the config, binds the same port and takes connections', async () => {
    const app = await startApp(config(a, 2));
    const port = app.address('svc').port;
    assert.deepEqual(await app.reload(config(a, 3)), []);
    assert.equal(app.workers!.count, 3);
    assert.equal(app.address('svc').port, port);
    const lines = await Promise.all(Array.from({ length: 60 }, () => greeting(port)));
    assert.deepEqual(new Set(lines), new Set(['a']));
    const stats = await app.workers!.stats();
    assert.deepEqual(stats.map((s) => s.applied), [2, 2, 1]);
    const served = await servedPerWorker(app);
    assert.equal(served.reduce((x, y) => x + y, 0), 60);
    assert.ok(served.every((n) => n > 0), `a worker served none: ${served.join(', ')}`);
    // the process's client budget is shared out over the new count
    const budget = app.runtime.resources.maxConnections;
    if (Number.isFinite(budget)) assert.deepEqual(stats.map((s) => s.maxConnections), [0, 1, 2].map(() => Math.floor(budget / 3)));
  });

  it('3 → 2: the worker beyond the count takes no new connection, its live ones go on, then it stops', async () => {
    const app = await startApp(config(a, 3));
    const port = app.address('svc').port;
    const live = await Promise.all(Array.from({ length: 30 }, () => greeted(port)));
    for (const { socket } of live) socket.resume();
    const heldBy = (await app.workers!.stats()).map((s) => s.connections);
    assert.ok(heldBy[2] > 0, `worker 2 holds none: ${heldBy.join(', ')}`);
    const third = app.workers!.thread(2);
    let gone = false;
    const exited = once(third, 'exit').then(() => (gone = true));

    assert.deepEqual(await app.reload(config(a, 2)), []);
    assert.equal(app.workers!.count, 2);
    const servedBefore = await servedPerWorker(app);
    const lines = await Promise.all(Array.from({ length: 40 }, () => greeting(port)));
    assert.deepEqual(new Set(lines), new Set(['a']));
    const servedAfter = await servedPerWorker(app);
    // all 40 went to the two workers that stay
    assert.equal(servedAfter[0] + servedAfter[1] - servedBefore[0] - servedBefore[1], 40);
    for (const { socket } of live) assert.equal(await talk(socket, 'still there?'), 'a:still there?');
    assert.equal(gone, false);
    // its last connections end: it leaves, and the counts it held are back
    for (const { socket } of live) socket.end();
    await exited;
    await until(() => app.runtime.member('p', 'a')!.active === 0);
  });

  it('3 → 2: the leaving worker\'s connections are ended once the shutdown grace has passed', async () => {
    const app = await startApp(config(a, 3, 50));
    const port = app.address('svc').port;
    const live = await Promise.all(Array.from({ length: 30 }, () => greeted(port)));
    let closed = 0;
    for (const { socket } of live) socket.on('close', () => closed++).resume();
    const held = (await app.workers!.stats())[2].connections;
    assert.ok(held > 0);
    const exited = once(app.workers!.thread(2), 'exit');
    assert.deepEqual(await app.reload(config(a, 2, 50)), []);
    await exited;
    await until(() => closed === held);
    // the others' connections are untouched
    const open = live.filter(({ socket }) => !socket.closed);
    assert.equal(open.length, 30 - held);
    for (const { socket } of open) assert.equal(await talk(socket, 'x'), 'a:x');
    for (const { socket } of open) socket.end();
  });

  it('3 → 2 → 3: the worker count comes back, every worker serving', async () => {
    const app = await startApp(config(a, 3));
    const port = app.address('svc').port;
    assert.deepEqual(await app.reload(config(a, 2)), []);
    assert.deepEqual(await app.reload(config(b, 3)), []);
    assert.equal(app.workers!.count, 3);
    const lines = await Promise.all(Array.from({ length: 60 }, () => greeting(port)));
    assert.deepEqual(new Set(lines), new Set(['b']));
    const served = (await app.workers!.stats()).map((s) => s.served['p/b'] ?? 0);
    assert.ok(served.every((n) => n > 0), `a worker served none: ${served.join(', ')}`);
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

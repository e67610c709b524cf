// global.workers: the tcp and http services served by N worker threads, the main thread keeping
// member states and the shared counts. Real servers and clients on loopback.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { before, describe, it } from 'node:test';
import { memberHealth, startApp } from '../helpers/app.ts';
import type { TcpMonitor } from '../../src/config/health-types.ts';
import { greeted, greetedOrEnded, greeting } from '../helpers/clients.ts';
import { pool, service, single } from '../helpers/config.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import type { Config } from '../../src/config/types.ts';
import { TcpListener } from '../../src/proxy/tcp-listener.ts';
import { workerCount } from '../../src/workers/worker-threads.ts';
import { availableParallelism } from 'node:os';
import { parseConfig } from '../../src/config/load.ts';
import { onlyIssue, withPool } from '../config/refused.ts';
import { httpGet } from '../helpers/clients.ts';
import { until } from '../helpers/wait.ts';
import { httpConfig, startMember } from '../proxy/http/helpers.ts';
import { connectionsSettle, servedPerWorker, withWorkers } from './helpers.ts';

let a: TcpServer;
let b: TcpServer;
before(async () => {
  [a, b] = await Promise.all([startTcpServer('a'), startTcpServer('b')]);
});

describe('workers: 2', () => {
  it('spreads tcp connections over both workers', async () => {
    const app = await startApp(withWorkers(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])), 2));
    const port = app.address('svc').port;
    const lines = await Promise.all(Array.from({ length: 40 }, () => greeting(port)));
    assert.deepEqual(new Set(lines), new Set(['a']));
    const served = await servedPerWorker(app);
    assert.equal(served.length, 2);
    assert.equal(served[0] + served[1], 40);
    assert.ok(served.every((n) => n > 0), `one worker served all: ${served.join(', ')}`);
  });

  it('shares the process\'s budget of client connections out between the workers', async () => {
    const app = await startApp(withWorkers(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])), 2));
    const budget = app.runtime.resources.maxConnections;
    const shares = (await app.workers!.stats()).map((s) => s.maxConnections);
    assert.deepEqual(shares, [Math.floor(budget / 2), Math.floor(budget / 2)]);
    assert.ok(Number.isFinite(budget) || app.budget === null);
  });
});

describe('workers: 2, state and limits', () => {
  it('holds max-connections 50 across both workers under 200 concurrent clients', async () => {
    const c = await startTcpServer('c');
    const app = await startApp(withWorkers(single('tcp', pool('least-connections', [{ port: c.port, id: 'c', maxConnections: 50 }], { max: 0 })), 2));
    const port = app.address('svc').port;
    const sockets = await Promise.all(Array.from({ length: 200 }, () => greetedOrEnded(port)));
    const held = sockets.filter((s) => s !== null);
    assert.equal(held.length, 50);
    assert.equal(c.peak, 50);
    // the one count the main thread sees is the sum of both workers'
    assert.equal(app.runtime.member('p', 'c')!.active, 50);
    const perWorker = await connectionsSettle(app, 50);
    assert.equal(perWorker[0] + perWorker[1], 50);
    for (const s of held) s.destroy();
  });

  it('a member disabled in the main thread gets nothing on any worker', async () => {
    const app = await startApp(withWorkers(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }])), 2));
    const port = app.address('svc').port;
    app.runtime.member('p', 'a')!.setAdmin('disabled');
    // each worker handles its messages in order: once it answers, it has the change
    await app.workers!.stats();
    const lines = await Promise.all(Array.from({ length: 40 }, () => greeting(port)));
    assert.deepEqual(new Set(lines), new Set(['b']));
    const served = (await app.workers!.stats()).map((s) => s.served['p/b']);
    assert.ok(served.every((n) => n > 0), `one worker served all: ${served.join(', ')}`);
  });

  it('members checking at start serve once up, and a member its health check finds down gets nothing on any worker', async () => {
    const g = await startTcpServer('g');
    const h = await startTcpServer('h');
    const monitor: TcpMonitor = { type: 'tcp', interval: 100, fastInterval: 100, timeout: 1_000, rise: 1, fall: 1, port: null, send: null, expect: null };
    const health = { require: { kind: 'all' as const }, monitors: [monitor], agent: null, initialState: 'checking' as const };
    const app = await startApp(withWorkers(single('tcp', pool('round-robin', [{ port: g.port, id: 'g' }, { port: h.port, id: 'h' }], {}, { health })), 2));
    const port = app.address('svc').port;
    // the workers start with the members checking: they serve once the main thread's checks pass
    await Promise.all([memberHealth(app, 'p', 'g', 'up'), memberHealth(app, 'p', 'h', 'up')]);
    await app.workers!.stats();
    assert.deepEqual(new Set(await Promise.all(Array.from({ length: 20 }, () => greeting(port)))), new Set(['g', 'h']));
    await g.close();
    await memberHealth(app, 'p', 'g', 'down');
    await app.workers!.stats();
    const lines = await Promise.all(Array.from({ length: 40 }, () => greeting(port)));
    assert.deepEqual(new Set(lines), new Set(['h']));
    const served = (await app.workers!.stats()).map((s) => s.served['p/h']);
    assert.ok(served.every((n) => n > 0), `one worker served all: ${served.join(', ')}`);
  });

  it('least-connections counts every worker\'s connections', async () => {
    const e = await startTcpServer('e');
    const f = await startTcpServer('f');
    const app = await startApp(withWorkers(single('tcp', pool('least-connections', [{ port: e.port, id: 'e' }, { port: f.port, id: 'f' }])), 2));
    const port = app.address('svc').port;
    app.runtime.member('p', 'f')!.setAdmin('disabled');
    await app.workers!.stats();
    const held: net.Socket[] = [];
    for (let i = 0; i < 6; i++) held.push((await greeted(port)).socket);
    app.runtime.member('p', 'f')!.setAdmin('enabled');
    await app.workers!.stats();
    // e has 6 in all, spread over both workers: the next 6, on whichever worker, go to f
    const lines = [];
    for (let i = 0; i < 6; i++) {
      const { socket, line } = await greeted(port);
      held.push(socket);
      lines.push(line);
    }
    assert.deepEqual(lines, ['f', 'f', 'f', 'f', 'f', 'f']);
    assert.equal(app.runtime.member('p', 'e')!.active, 6);
    assert.equal(app.runtime.member('p', 'f')!.active, 6);
    const perWorker = (await app.workers!.stats()).map((s) => s.connections);
    assert.ok(perWorker.every((n) => n > 0), `one worker held all: ${perWorker.join(', ')}`);
    for (const s of held) s.destroy();
  });

  it('a reload reaches every worker', async () => {
    const first = withWorkers(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])), 2);
    const app = await startApp(first);
    const port = app.address('svc').port;
    assert.deepEqual(await app.reload(withWorkers(single('tcp', pool('round-robin', [{ port: b.port, id: 'b' }])), 2)), []);
    assert.equal(app.address('svc').port, port);
    const lines = await Promise.all(Array.from({ length: 40 }, () => greeting(port)));
    assert.deepEqual(new Set(lines), new Set(['b']));
    const stats = await app.workers!.stats();
    assert.deepEqual(stats.map((s) => s.applied), [2, 2]);
    assert.ok(stats.every((s) => s.served['p/b'] > 0));
  });

  it('a reload that changes one pool: its new member counts in the shared slots, the other pool\'s members count on where they did', async () => {
    const c = await startTcpServer('c');
    const config = (qMembers: { port: number; id: string }[]): Config => withWorkers({
      global: { shutdownGrace: 1_000, logLevel: 'silent' },
      services: { svc: service('tcp', 'p'), t: service('tcp', 'q') },
      pools: { p: pool('round-robin', [{ port: a.port, id: 'a' }]), q: pool('round-robin', qMembers) },
    }, 2);
    const app = await startApp(config([{ port: b.port, id: 'b' }]));
    const [pPort, qPort] = [app.address('svc').port, app.address('t').port];
    const held: net.Socket[] = [];
    for (let i = 0; i < 4; i++) held.push((await greeted(pPort)).socket, (await greeted(qPort)).socket);
    // q gains c; p is the same config, read anew
    assert.deepEqual(await app.reload(config([{ port: b.port, id: 'b' }, { port: c.port, id: 'c' }])), []);
    const lines: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { socket, line } = await greeted(qPort);
      held.push(socket);
      lines.push(line);
    }
    assert.ok(lines.includes('c'), lines.join(', '));
    // what the workers hold, read in the main thread from the shared slots
    assert.equal(app.runtime.member('p', 'a')!.active, 4);
    assert.equal(app.runtime.member('q', 'c')!.active, lines.filter((l) => l === 'c').length);
    assert.equal(app.runtime.member('q', 'b')!.active, 4 + lines.filter((l) => l === 'b').length);
    for (const s of held) s.destroy();
    await until(() => app.runtime.member('p', 'a')!.active === 0 && app.runtime.member('q', 'c')!.active === 0);
  });

  it('a stop reaches every worker: their clients are closed and the threads end', async () => {
    const app = await startApp(withWorkers(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])), 2));
    const port = app.address('svc').port;
    const held = (await Promise.all(Array.from({ length: 20 }, () => greetedOrEnded(port)))).filter((s) => s !== null);
    assert.equal(held.length, 20);
    const stats = await app.workers!.stats();
    assert.ok(stats.every((s) => s.connections > 0), `one worker holds all: ${stats.map((s) => s.connections).join(', ')}`);
    const exits = [0, 1].map((i) => once(app.workers!.thread(i), 'exit'));
    await app.stop(0);
    await Promise.all([...exits, ...held.map((s) => (s.closed ? null : once(s, 'close')))]);
  });

  it('a worker that dies is replaced, and the counts it held are given back', async () => {
    const d = await startTcpServer('d');
    const app = await startApp(withWorkers(single('tcp', pool('least-connections', [{ port: d.port, id: 'd', maxConnections: 20 }], { max: 0 })), 2));
    const port = app.address('svc').port;
    const held = (await Promise.all(Array.from({ length: 20 }, () => greetedOrEnded(port)))).filter((s) => s !== null);
    assert.equal(held.length, 20);
    const keptByOne = (await app.workers!.stats())[1].connections;
    const replaced = once(app.workers!, 'replaced');
    await app.workers!.thread(0).terminate();
    assert.deepEqual(await replaced, [0]);
    // worker 0's clients are gone with it; worker 1's still count
    assert.equal(app.runtime.member('p', 'd')!.active, keptByOne);
    for (const s of held) s.destroy();
    // the shared count falls to 0 as worker 1 sees its clients go: the dead worker's share is not in it
    await until(() => app.runtime.member('p', 'd')!.active === 0);
    // one at a time: under the limit of 20, none is turned away
    for (let i = 0; i < 40; i++) assert.equal(await greeting(port), 'd');
    assert.ok((await servedPerWorker(app)).every((n) => n > 0));
  });

  it('spreads http requests over both workers', async () => {
    const m = await startMember('m');
    const app = await startApp(withWorkers(httpConfig(pool('round-robin', [{ port: m.port, id: 'm' }])), 2));
    const port = app.address('svc').port;
    const bodies = await Promise.all(Array.from({ length: 40 }, () => httpGet(port)));
    assert.deepEqual(new Set(bodies), new Set(['m GET /']));
    assert.ok((await servedPerWorker(app)).every((n) => n > 0));
  });
});

describe('workers: 1', () => {
  it('runs no worker thread: the service is the main thread\'s own listener', async () => {
    const app = await startApp(withWorkers(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])), 1));
    assert.equal(app.workers, null);
    assert.ok(app.listener('svc') instanceof TcpListener);
    assert.equal(await greeting(app.address('svc').port), 'a');
  });
});

describe('global.workers in the file', () => {
  const pools = withPool('{ members: [ { address: 10.0.0.1:80 } ] }');
  it('is auto when not given, auto or a whole number from 1 to 256 when given', () => {
    assert.equal(parseConfig(pools, 'w.yaml', {}).global.workers, 'auto');
    assert.equal(parseConfig(`global: { workers: auto }\n${pools}`, 'w.yaml', {}).global.workers, 'auto');
    assert.equal(parseConfig(`global: { workers: "\${N}" }\n${pools}`, 'w.yaml', { N: '4' }).global.workers, 4);
  });

  it('auto is the cores this process may run on; absent is 1', () => {
    assert.equal(workerCount('auto'), availableParallelism());
    assert.equal(workerCount(undefined), 1);
    assert.equal(workerCount(3), 3);
  });

  it('refuses anything else, naming the key', () => {
    for (const bad of ['0', '257', 'all', '1.5']) {
      assert.deepEqual(onlyIssue(`global: { workers: ${bad} }\n${pools}`), ['global.workers', `expected auto or a whole number from 1 to 256, got ${/^[0-9.]+$/.test(bad) ? bad : `"${bad}"`}`]);
    }
  });
});

// global.workers: the tcp and http services served by N worker threads, the main thread keeping
// member states and the shared counts. Real servers and clients on loopback.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { before, describe, it } from 'node:test';
import { startApp } from '../helpers/app.ts';
import { greeting } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import type { Furiwake } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';
import { TcpListener } from '../../src/proxy/tcp-listener.ts';

function withWorkers(config: Config, workers: number): Config {
  return { ...config, global: { ...config.global, workers } };
}

/** Connections (http: requests) each worker gave to members so far. */
async function servedPerWorker(app: Furiwake): Promise<number[]> {
  const stats = await app.workers!.stats();
  return stats.map((s) => Object.values(s.served).reduce((a, b) => a + b, 0));
}

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
});

describe('workers: 1', () => {
  it('runs no worker thread: the service is the main thread\'s own listener', async () => {
    const app = await startApp(withWorkers(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])), 1));
    assert.equal(app.workers, null);
    assert.ok(app.listener('svc') instanceof TcpListener);
    assert.equal(await greeting(app.address('svc').port), 'a');
  });
});

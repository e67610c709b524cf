// The app as a whole: start, stop with a grace period, and nothing left open afterwards.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Furiwake } from '../src/app.ts';
import type { Config } from '../src/config/types.ts';
import { createLogger } from '../src/log.ts';
import { greeted, udpClient } from './helpers/clients.ts';
import { pool, service } from './helpers/config.ts';
import { startTcpServer, startUdpServer } from './helpers/servers.ts';
import { openHandles } from './helpers/handles.ts';

describe('furiwake app', () => {
  it('stops accepting, lets live connections finish, then leaves no handle open', async () => {
    const before = await openHandles();
    const tcp = await startTcpServer('t');
    const udp = await startUdpServer('u');
    const config: Config = {
      global: { shutdownGrace: 60_000, logLevel: 'silent' },
      services: { t: service('tcp', 'tp'), u: service('udp', 'up') },
      pools: { tp: pool('round-robin', [{ port: tcp.port }]), up: pool('round-robin', [{ port: udp.port }]) },
    };
    const app = await Furiwake.start(config, createLogger('silent'));
    const live = await greeted(app.address('t').port);
    const client = await udpClient();
    assert.equal((await client.ask(app.address('u').port, 'x')).text, 'u:x');
    await client.close();

    const stopped = app.stop(60_000);
    // the live tcp connection keeps the app waiting; when it ends, stop() completes
    let done = false;
    void stopped.then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, false);
    live.socket.resume();
    live.socket.end();
    await once(live.socket, 'close');
    await stopped;
    assert.equal(app.runtime.connections.size, 0);

    await tcp.close();
    await udp.close();
    assert.deepEqual(await openHandles(), before);
  });

  it('ends the connections still open when the grace period is over', async () => {
    const tcp = await startTcpServer('t');
    const config: Config = {
      global: { shutdownGrace: 0, logLevel: 'silent' },
      services: { t: service('tcp', 'tp') },
      pools: { tp: pool('round-robin', [{ port: tcp.port }]) },
    };
    const app = await Furiwake.start(config, createLogger('silent'));
    const live = await greeted(app.address('t').port);
    live.socket.resume();
    const closed = once(live.socket, 'close');
    await app.stop(10);
    await closed;
    assert.equal(app.runtime.connections.size, 0);
    await tcp.close();
  });

  it('refuses to start when a service address is taken, leaving nothing open', async () => {
    const before = await openHandles();
    const tcp = await startTcpServer('t');
    const taken: Config = {
      global: { shutdownGrace: 0, logLevel: 'silent' },
      services: { t: { ...service('tcp', 'tp'), listen: { host: '127.0.0.1', ip: '127.0.0.1', port: tcp.port } } },
      pools: { tp: pool('round-robin', [{ port: tcp.port }]) },
    };
    await assert.rejects(Furiwake.start(taken, createLogger('silent')), /service t: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    await tcp.close();
    assert.deepEqual(await openHandles(), before);
  });
});

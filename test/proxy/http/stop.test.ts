// Stopping an http service: idle keep-alive clients are closed at once, a request in progress is
// answered (with Connection: close) before its connection closes, kept member connections are
// closed, and nothing is left open.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { it } from 'node:test';
import { Furiwake } from '../../../src/app.ts';
import { createLogger } from '../../../src/log.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { bodyOf, connection, headerOf, httpConfig, startMember } from './helpers.ts';
import { openHandles } from '../../helpers/handles.ts';

describeOnEachEngine('stopping an http service', () => {
  it('closes idle clients, finishes the request in progress, and leaves no handle open', async () => {
    const before = await openHandles();
    let release = (): void => {};
    let arrive = (): void => {};
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    const m = await startMember('a', (req, res) => {
      if (req.url !== '/slow') return res.end('quick');
      arrive();
      release = () => res.end('finished');
    });
    const config = httpConfig(pool('round-robin', [{ port: m.port }]));
    config.global.shutdownGrace = 60_000;
    const app = await Furiwake.start(config, createLogger('silent'));
    const port = app.address('svc').port;

    const idle = await connection(port);
    await idle.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const busy = await connection(port);
    const answer = busy.send('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await arrived;

    const stopped = app.stop(60_000);
    await once(idle.socket, 'end'); // the idle client is let go at once
    await idle.close();
    release();
    const got = await answer;
    assert.equal(bodyOf(got), 'finished');
    assert.equal(headerOf(got, 'connection'), 'close');
    await once(busy.socket, 'end');
    await busy.close();
    await stopped;
    assert.equal(app.runtime.connections.size, 0);
    await m.close();
    assert.deepEqual(await openHandles(), before);
  });
});

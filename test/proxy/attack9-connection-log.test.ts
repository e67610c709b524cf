// Attacks on the tcp connection log's termination (access-log: true): a client that resets
// mid-stream, one that resets or closes while it waits in the queue, one whose queue wait runs
// out. Each connection is one line, with why it ended.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { logged } from './connection-log-helpers.ts';

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

describeOnEachEngine('tcp connection log, hostile clients', () => {
  it('a reset mid-stream, a reset and a close in the queue, a queue wait run out: one line each, with why', async () => {
    const echo = await startTcpServer('echo', (s) => {
      s.on('data', (d: Buffer) => s.write(d));
      s.on('end', () => s.end());
    });
    const { port, next, connections } = await logged(single('tcp', pool('round-robin', [{ port: echo.port, id: 'e', maxConnections: 1 }], { max: 10, timeout: 300 }), { accessLog: true }));
    // holds the member's only place
    const holder = await connect(port);
    holder.write('hold');
    await once(holder, 'data');
    // queued, then reset; queued, then closed
    const resetQueued = await connect(port);
    resetQueued.resetAndDestroy();
    const first = await next(1);
    const closedQueued = await connect(port);
    closedQueued.end();
    const second = await next(2);
    // queued until the queue's timeout
    const late = await connect(port);
    const third = await next(3);
    late.destroy();
    // the holder resets mid-stream
    holder.resetAndDestroy();
    const fourth = await next(4);
    assert.deepEqual([first, second, third, fourth].map((l) => [l.member ?? null, l.termination]), [
      [null, 'client-reset'], [null, 'client-closed'], [null, 'queue-timeout'], ['e', 'client-reset'],
    ]);
    assert.equal(connections().length, 4);
  });
});

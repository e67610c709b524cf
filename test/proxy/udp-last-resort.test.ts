// The udp plane's last resort: a throw while handling a datagram (a bug, whatever its cause) drops
// that datagram and closes its flow, is logged and counted, and never reaches the event loop,
// where it would end the process and every other service with it.

import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { startApp } from '../helpers/app.ts';
import { pool, single } from '../helpers/config.ts';
import { startUdpServer } from '../helpers/servers.ts';

it('a throw choosing a member for a datagram drops it only: counted, and the next datagram is served', async () => {
  const u = await startUdpServer('u');
  after(() => u.close());
  const app = await startApp(single('udp', pool('round-robin', [{ port: u.port, id: 'u' }])));
  const port = app.address('svc').port;
  const p = app.runtime.pools.get('p')!;
  const acquire = p.acquire;
  let thrown = 0;
  p.acquire = (...args: Parameters<typeof acquire>) => {
    p.acquire = acquire;
    thrown++;
    throw new Error('injected failure');
  };
  const client = dgram.createSocket('udp4');
  after(() => new Promise<void>((resolve) => client.close(() => resolve())));
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
  const answer = once(client, 'message') as Promise<[Buffer]>;
  // the first datagram meets the bug and is dropped; the second is served (loopback keeps the order,
  // so the first answer is the second datagram's)
  client.send('first', port, '127.0.0.1');
  client.send('second', port, '127.0.0.1');
  assert.equal(String((await answer)[0]), 'u:second');
  assert.equal(thrown, 1);
  assert.equal(app.runtime.resources.connectionsFailed, 1);
});

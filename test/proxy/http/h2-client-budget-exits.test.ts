// The member connections an HTTP/2 client's streams hold are counted in the descriptor budget
// while held (h2-client-budget.test.ts). Every way a stream can end must give its count back:
// the client's reset, the member's reset, a connect that fails and is retried on another member,
// an answer before the request's body is all in, a queued stream reset, and the whole connection
// going. A count left behind would shrink the budget for good, until every request gets 503.

import assert from 'node:assert/strict';
import type http from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { pool } from '../../helpers/config.ts';
import { until } from '../../helpers/wait.ts';
import { h2Connect, h2cService, h2Request } from './h2-helpers.ts';
import { startMember } from './helpers.ts';

/** A loopback port nobody listens on. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('an HTTP/2 client to an HTTP/1.1 pool: the budget count of member connections held', () => {
  it('goes back to zero on every way a stream ends', async () => {
    const held = new Map<string, http.ServerResponse>();
    const member = await startMember('m', (req, res) => {
      const path = req.url!;
      if (path === '/member-reset') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part');
        return void setImmediate(() => req.socket.destroy());
      }
      if (path.startsWith('/hold')) return void held.set(path, res);
      res.end('ok');
    });
    const dead = await deadPort();
    const { app, port } = await h2cService(pool('round-robin', [
      { port: dead, id: 'dead' }, { port: member.port, id: 'm', maxConnections: 1 },
    ]));
    const resources = app.runtime.resources;
    const session = h2Connect(port, false);
    after(() => session.destroy());

    // a connect that fails is retried on the other member: one count, given back
    for (let i = 0; i < 2; i++) assert.equal((await h2Request(session, { ':path': `/retry${i}` })).status, 200);
    assert.equal(resources.clientOnlyMemberConnections, 0);
    // from here on the live member alone
    const p = app.runtime.pools.get('p')!;
    p.member('dead')!.setAdmin('disabled');

    // the member resets its connection mid-body
    await h2Request(session, { ':path': '/member-reset' }).catch(() => undefined);
    await until(() => resources.clientOnlyMemberConnections === 0);

    // the client resets its stream while the member holds the response; a second stream waits in
    // the queue (the member takes one at a time) and is reset there
    const first = session.request({ ':path': '/hold1' });
    first.on('error', () => {});
    await until(() => held.has('/hold1'));
    assert.equal(resources.clientOnlyMemberConnections, 1);
    const queued = session.request({ ':path': '/hold2' });
    queued.on('error', () => {});
    await until(() => p.queued === 1);
    queued.close(0x8);
    await until(() => p.queued === 0);
    first.close(0x8);
    await new Promise((resolve) => held.get('/hold1')!.on('close', resolve));
    await until(() => resources.clientOnlyMemberConnections === 0);
    assert.equal(held.has('/hold2'), false);

    // the whole connection goes with three streams held
    const other = h2Connect(port, false);
    for (let i = 3; i < 6; i++) other.request({ ':path': `/hold${i}` }).on('error', () => {});
    await until(() => held.size >= 2);
    other.destroy();
    await until(() => resources.clientOnlyMemberConnections === 0 && resources.clientOnlyConnections === 1);
    for (const res of held.values()) res.destroy();
    await until(() => p.queued === 0);
    await until(() => resources.clientOnlyMemberConnections === 0);
  });
});

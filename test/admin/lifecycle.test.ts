// The admin plane owns a server, its sockets (an event stream stays open), the rate tick and a
// hook on the health manager: stopping furiwake closes all of them, leaving no handle behind.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import { createLogger } from '../../src/log.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { adminConfig } from './helpers.ts';
import { allClosed, openHandles } from '../helpers/handles.ts';

interface Got {
  res: http.IncomingMessage;
  /** the client's socket: it closes once the server closed it */
  socket: net.Socket;
  /** what has arrived so far */
  text(): string;
  /** everything, once the server ends the response */
  body: Promise<string>;
}

function get(port: number, path: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      resolve({ res, socket: req.socket!, text: () => text, body: once(res, 'end').then(() => text) });
    });
    req.on('error', reject);
  });
}

describe('admin plane lifecycle', () => {
  it('closes its server, an open event stream, its tick and its health hook on stop', async () => {
    const before = await openHandles();
    const a = await startTcpServer('a');
    const app = await Furiwake.start({ ...single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])), admin: adminConfig() }, createLogger('silent'));
    const port = app.admin.address()!.port;
    assert.equal(app.health.events.listenerCount('check'), 1);

    const events = await get(port, '/api/v1/events');
    assert.equal(events.res.headers['content-type'], 'text/event-stream; charset=utf-8');
    while (!events.text().includes('event: snapshot')) await once(events.res, 'data');
    assert.match(events.text(), /^retry: 2000\n\nevent: snapshot\ndata: \{/);
    const metrics = await get(port, '/metrics');
    assert.match(await metrics.body, /furiwake_member_connections_total\{pool="p",member="a"\} 0/);

    await app.stop(0);
    await events.body; // the stream was ended by the server
    assert.equal(app.admin.address(), null);
    assert.equal(app.health.events.listenerCount('check'), 0);
    await a.close();
    // the clients' sockets close once they hear the server's close: awaited, not left to loop turns
    await allClosed([events.socket, metrics.socket]);
    assert.deepEqual(await openHandles(), before);
  });
});

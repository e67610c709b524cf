// The admin listener under a flood of slow clients: one client address holds at most
// max-connections-per-client slots, so the operator's own client (another address) is still
// answered; a client that never finishes its headers or its body is closed at the deadline,
// not up to 30 s later.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'node:test';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { openEvents, startAdminApp, TOKEN } from './helpers.ts';
import { parsePrometheus, value } from './prometheus-text.ts';

async function admin(extra = {}) {
  const a = await startTcpServer('a');
  const { app, base } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])), extra);
  return { app, base, port: Number(new URL(base).port) };
}

/** A connection that sends the start of a request and then nothing. */
async function slow(port: number, localAddress = '127.0.0.1', sent = 'GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n'): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(sent);
  return socket;
}

/** GET `path` from the operator's address (127.0.0.2), not the flood's. */
function get(port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, localAddress: '127.0.0.2', agent: false, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', reject);
  });
}

async function refused(port: number, reason: string): Promise<number> {
  const { text } = await get(port, '/metrics');
  return value(parsePrometheus(text), 'furiwake_admin_connections_refused_total', { reason });
}

describe('admin listener: slow clients', () => {
  it('300 slow connections from one address leave the operator (another address) answered', async () => {
    const { port } = await admin();
    const sockets: net.Socket[] = [];
    let closed = 0;
    for (let i = 0; i < 300; i++) {
      const s = await slow(port);
      s.on('close', () => closed++);
      sockets.push(s);
    }
    // the listener has taken in the flood: what it turned away is closed (beyond 256 at least)
    while (closed < 300 - 256) await new Promise((resolve) => setImmediate(resolve));
    try {
      assert.equal((await get(port, '/api/v1/status')).status, 200);
      // one address keeps its own bound: the flood holds 16 slots, no more
      while (closed < 300 - 16) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(sockets.filter((s) => !s.destroyed).length, 16);
      assert.equal(await refused(port, 'client-limit'), 300 - 16);
      assert.equal(await refused(port, 'limit'), 0);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('takes max-connections-per-client from the config', async () => {
    const { port } = await admin({ maxConnectionsPerClient: 2 });
    const held = [await slow(port), await slow(port)];
    const third = await slow(port);
    await once(third, 'close');
    assert.equal((await get(port, '/api/v1/status')).status, 200);
    for (const s of held) s.destroy();
  });

  it('at max-connections, the oldest slow connection makes room for a newcomer; one with a request being answered does not', async () => {
    const { port } = await admin({ maxConnections: 20 });
    const sockets: net.Socket[] = [];
    for (let a = 1; a <= 10; a++) for (let i = 0; i < 2; i++) sockets.push(await slow(port, `127.0.3.${a}`));
    const oldestClosed = once(sockets[0], 'close');
    try {
      // every slot holds a slow client, from 10 addresses: the operator still gets in, and the
      // oldest slow client is the one that gave way
      assert.equal((await get(port, '/api/v1/status')).status, 200);
      await oldestClosed;
      assert.ok(await refused(port, 'evicted') >= 1);
      assert.equal(await refused(port, 'limit'), 0);
    } finally {
      for (const s of sockets) s.destroy();
    }
    // event streams are requests being answered: they keep their slots, and a newcomer is turned away
    const small = await admin({ maxConnections: 2 });
    const streams = await Promise.all([openEvents(small.base, TOKEN), openEvents(small.base, TOKEN)]);
    const third = await slow(small.port, '127.0.0.3');
    await once(third, 'close');
    // both streams go on: past the first snapshot, the next one comes within a second
    for (const stream of streams) {
      await stream.next();
      assert.equal((await stream.next((e) => e.event === 'snapshot')).event, 'snapshot');
    }
    streams[0].close();
    // once the server has seen that stream go, its slot is free again
    let answer: { status: number; text: string } | null = null;
    while (answer === null) answer = await get(small.port, '/metrics').catch(() => null);
    assert.ok(value(parsePrometheus(answer.text), 'furiwake_admin_connections_refused_total', { reason: 'limit' }) >= 1);
    streams[1].close();
  });

  it('closes a connection that has not sent its headers soon after the 5 s deadline', { timeout: 15_000 }, async () => {
    const { port } = await admin();
    const socket = await slow(port);
    let answer = '';
    socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
    await once(socket, 'close');
    assert.match(answer, /^(HTTP\/1\.1 408 |$)/);
    assert.equal(await refused(port, 'timeout'), 1);
  });

  it('closes a request whose body never ends at the 10 s request deadline', { timeout: 20_000 }, async () => {
    const { port } = await admin();
    const head = `POST /api/v1/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`;
    const socket = await slow(port, '127.0.0.1', head);
    let answer = '';
    socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
    await once(socket, 'close');
    assert.match(answer, /^(HTTP\/1\.1 408 |$)/);
  });
});

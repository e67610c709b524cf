// rate-limit on the connections of tcp and http services: connection-rate (new connections per
// client address, a token bucket) closes a connection over it at once, before any member is chosen;
// closing connections gives no token back; another address has its own bucket; with two worker
// threads the burst is the process's. rate-limit.connections is max-connections-per-client.

import assert from 'node:assert/strict';
import net from 'node:net';
import { it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import type { Furiwake } from '../../src/app.ts';
import { startApp } from '../helpers/app.ts';
import { startTcpServer } from '../helpers/servers.ts';

async function tcpVip(limit: string, workers = 1): Promise<{ app: Furiwake; port: number; member: Awaited<ReturnType<typeof startTcpServer>> }> {
  const member = await startTcpServer('a');
  const app = await startApp(parseConfig(`global: { log-level: silent, workers: ${workers} }
services:
  svc: { listen: 127.0.0.1:0, mode: tcp, pool: p, rate-limit: ${limit} }
pools:
  p: { members: [ { address: 127.0.0.1:${member.port} } ] }
`, 'rate.yaml', {}));
  return { app, port: app.address('svc').port, member };
}

/** Connects from `from`: the socket once the member greeted it, or null when it was closed first. */
function greetedOrClosed(port: number, from = '127.0.0.1'): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    socket.on('error', () => {});
    socket.once('data', () => resolve(socket));
    socket.on('close', () => resolve(null));
  });
}

async function attempts(n: number, port: number, from = '127.0.0.1'): Promise<(net.Socket | null)[]> {
  const out: (net.Socket | null)[] = [];
  for (let i = 0; i < n; i++) out.push(await greetedOrClosed(port, from));
  return out;
}

function closeAll(sockets: (net.Socket | null)[]): void {
  for (const s of sockets) s?.destroy();
}

it('tcp connection-rate: the connections past the burst are closed at once and never reach a member; another address has its own bucket', async () => {
  const { port, member } = await tcpVip('{ connection-rate: 1/h, connection-burst: 3 }');
  const first = await attempts(4, port);
  assert.deepEqual(first.map((s) => s !== null), [true, true, true, false]);
  assert.equal(member.accepted, 3);
  // closing connections gives no token back: the rate counts new connections, not open ones
  closeAll(first);
  assert.equal(await greetedOrClosed(port), null);
  const other = await attempts(3, port, '127.0.0.2');
  assert.ok(other.every((s) => s !== null));
  closeAll(other);
});

it('tcp connections is max-connections-per-client: a client at it has its next connection closed', async () => {
  const { app, port } = await tcpVip('{ connections: 2 }');
  assert.equal(app.runtime.services.get('svc')!.config.maxConnectionsPerClient, 2);
  const open = await attempts(3, port);
  assert.deepEqual(open.map((s) => s !== null), [true, true, false]);
  assert.equal(app.runtime.resources.clientCapRefused, 1);
  closeAll(open);
});

it('http connection-rate: a connection past the burst is closed at accept', async () => {
  const member = await startTcpServer('a');
  const app = await startApp(parseConfig(`global: { log-level: silent, workers: 1 }
services:
  www: { listen: 127.0.0.1:0, mode: http, pool: p, rate-limit: { connection-rate: 1/h, connection-burst: 2 } }
pools:
  p: { members: [ { address: 127.0.0.1:${member.port} } ] }
`, 'rate.yaml', {}));
  const port = app.address('www').port;
  const sockets = await Promise.all([0, 1].map(() => new Promise<net.Socket>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
  })));
  assert.equal(await greetedOrClosed(port), null);
  closeAll(sockets);
});

it('with two worker threads the connection burst is the process\'s: 10 of 40 connections come in', async () => {
  const { app, port, member } = await tcpVip('{ connection-rate: 1/h, connection-burst: 10 }', 2);
  const all = await attempts(40, port);
  assert.equal(all.filter((s) => s !== null).length, 10);
  assert.equal(member.accepted, 10);
  closeAll(all);
  assert.equal((await app.workers!.stats()).length, 2);
});

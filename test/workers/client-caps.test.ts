// max-connections-per-client with global.workers: 2 (issue 14): the cap holds for the process,
// whichever worker the kernel gives each connection to. 40 concurrent connections from one client
// address against a cap of 10, counted at the real member; places freed on either worker; another
// address untouched; a killed worker's clients' places given back.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { Furiwake } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';
import { startApp } from '../helpers/app.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';
import { httpConfig, startMember } from '../proxy/http/helpers.ts';
import { drained, withWorkers } from './helpers.ts';

const TIMEOUT = 60_000;
const REQUEST = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

/**
 * Connects from `from` (and sends `send`); resolves with the socket once anything came back (the
 * member's greeting, a response), or null if the connection was closed without a byte.
 */
function answeredFrom(port: number, from: string, send = ''): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    if (send !== '') socket.on('connect', () => socket.write(send));
    socket.on('error', () => resolve(null));
    socket.once('data', () => resolve(socket));
    socket.on('close', () => resolve(null));
  });
}

async function many(n: number, port: number, from: string, send = ''): Promise<net.Socket[]> {
  const all = await Promise.all(Array.from({ length: n }, () => answeredFrom(port, from, send)));
  return all.filter((s) => s !== null);
}

async function closeAll(sockets: net.Socket[]): Promise<void> {
  await Promise.all(sockets.map(async (s) => {
    s.destroy();
    if (!s.closed) await once(s, 'close');
  }));
}

/** Once the workers hold `n` connections in all. */
async function holding(app: Furiwake, n: number): Promise<number[]> {
  for (;;) {
    const per = (await app.workers!.stats()).map((s) => s.connections);
    if (per[0] + per[1] === n) return per;
  }
}

describe('workers: 2, max-connections-per-client', () => {
  it('tcp: a cap of 10 admits exactly 10 of 40 concurrent connections of one address across both workers; closed ones free places; another address is not affected', { timeout: TIMEOUT }, async () => {
    const member = await startTcpServer('a');
    const app = await startApp(withWorkers(single('tcp', pool('round-robin', [{ port: member.port }]), { maxConnectionsPerClient: 10 }), 2));
    const port = app.address('svc').port;
    const held = await many(40, port, '127.0.0.1');
    assert.equal(held.length, 10);
    assert.equal(member.accepted, 10);
    assert.equal(member.peak, 10);
    // the refused ones were spread over both workers too: each worker saw the one count
    assert.equal(app.workers!.clientTables.table('svc')!.count('127.0.0.1'), 10);
    const other = await many(10, port, '127.0.0.2');
    assert.equal(other.length, 10);
    // 4 closed: 4 places, taken by new connections on whichever worker the kernel picks
    await closeAll(held.splice(0, 4));
    await holding(app, 16);
    const again = await many(40, port, '127.0.0.1');
    assert.equal(again.length, 4);
    assert.equal(member.peak, 20);
    await closeAll([...held, ...again, ...other]);
    await drained(app);
    assert.equal(app.workers!.clientTables.table('svc')!.size, 0);
    await member.close();
  });

  it('http: a cap of 10 admits exactly 10 of 40 concurrent connections of one address, counted at the member', { timeout: TIMEOUT }, async () => {
    const m = await startMember('a');
    const app = await startApp(withWorkers(httpConfig(pool('round-robin', [{ port: m.port }]), {}, { maxConnectionsPerClient: 10 }), 2));
    const port = app.address('svc').port;
    const held = await many(40, port, '127.0.0.1', REQUEST);
    assert.equal(held.length, 10);
    assert.equal(m.requests.length, 10);
    const other = await many(5, port, '127.0.0.2', REQUEST);
    assert.equal(other.length, 5);
    await closeAll(held.splice(0, 3));
    await holding(app, 12);
    const again = await many(20, port, '127.0.0.1', REQUEST);
    assert.equal(again.length, 3);
    assert.equal(m.requests.length, 18);
    await closeAll([...held, ...again, ...other]);
    await drained(app);
    assert.equal(app.workers!.clientTables.table('svc')!.size, 0);
  });

  it('a cap turned on by a reload holds across both workers, and one turned off lets every connection in', { timeout: TIMEOUT }, async () => {
    const member = await startTcpServer('a');
    const config = (cap: number, port = 0): Config => {
      const c = withWorkers(single('tcp', pool('round-robin', [{ port: member.port }]), { maxConnectionsPerClient: cap }), 2);
      return { ...c, services: { svc: { ...c.services.svc, listen: { ...c.services.svc.listen, port } } } };
    };
    const app = await startApp(config(0));
    const port = app.address('svc').port;
    // uncounted while the cap is off, and not counted later either
    const before = await many(4, port, '127.0.0.1');
    assert.equal(before.length, 4);
    assert.equal(app.workers!.clientTables.table('svc'), undefined);
    assert.deepEqual(await app.reload(config(5, port)), []);
    const held = await many(40, port, '127.0.0.1');
    assert.equal(held.length, 5);
    assert.equal(app.workers!.clientTables.table('svc')!.count('127.0.0.1'), 5);
    assert.deepEqual(await app.reload(config(0, port)), []);
    const open = await many(10, port, '127.0.0.1');
    assert.equal(open.length, 10);
    await closeAll([...before, ...held, ...open]);
    await drained(app);
    // the table is kept while the service is: its counted connections gave their places back
    assert.equal(app.workers!.clientTables.table('svc')!.size, 0);
    await member.close();
  });

  it('a killed worker\'s clients get their places back once it is replaced', { timeout: TIMEOUT }, async () => {
    const member = await startTcpServer('a');
    const app = await startApp(withWorkers(single('tcp', pool('round-robin', [{ port: member.port }]), { maxConnectionsPerClient: 10 }), 2));
    const port = app.address('svc').port;
    const held = await many(40, port, '127.0.0.1');
    assert.equal(held.length, 10);
    const per = await holding(app, 10);
    // the worker holding more of them is killed: its connections are lost
    const victim = per[0] >= per[1] ? 0 : 1;
    const lost = per[victim];
    const gone = held.map((s) => (s.closed ? Promise.resolve() : once(s, 'close')));
    const replaced = once(app.workers!, 'replaced');
    await app.workers!.thread(victim).terminate();
    assert.deepEqual(await replaced, [victim]);
    await until(() => held.filter((s) => s.closed).length === lost);
    assert.equal(app.workers!.clientTables.table('svc')!.count('127.0.0.1'), 10 - lost);
    const again = await many(40, port, '127.0.0.1');
    assert.equal(again.length, lost);
    await closeAll([...held, ...again]);
    await Promise.all(gone);
    await drained(app);
    assert.equal(app.workers!.clientTables.table('svc')!.size, 0);
    await member.close();
  });
});

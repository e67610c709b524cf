// The connection log of a tcp service (access-log: true): one line per connection when it ends,
// with its client, pool, member, bytes each way, times and why it ended; none without
// access-log; in the logs.access line format to a file too. Real members on loopback.

import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseTemplate } from '../../src/config/log-fields.ts';
import { startApp } from '../helpers/app.ts';
import { exchange } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { tempDir } from '../helpers/files.ts';
import { refusedPort } from '../helpers/ports.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { logged } from './connection-log-helpers.ts';
import { fileLines } from '../log/helpers.ts';

/** A member that answers each client's bytes with their length, and closes when the client does. */
function counting(socket: net.Socket): void {
  let n = 0;
  socket.on('data', (d: Buffer) => (n += d.length));
  socket.on('end', () => socket.end(`got ${n}\n`));
}

describeOnEachEngine('tcp connection log', () => {
  it('logs a connection with its client, pool, member, bytes each way, times and who closed first', async () => {
    const a = await startTcpServer('a', counting);
    const { port, next } = await logged(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }]), { accessLog: true }));
    const served = await exchange(port, 'hello, member');
    assert.equal(String(served.data), 'got 13\n');
    const line = await next(1);
    assert.deepEqual(
      [line.client, line.service, line.pool, line.member, line.protocol, line.bytesIn, line.bytes, line.termination],
      ['127.0.0.1', 'svc', 'p', 'a', 'tcp', 13, 7, 'client-closed'],
    );
    for (const t of ['queue', 'connect', 'firstByte', 'total'] as const) assert.equal(typeof line[t], 'number', t);
    assert.ok((line.total as number) >= (line.firstByte as number));
    assert.equal(line.route, undefined);
  });

  it('says the member closed first, or reset, and the connects that failed or found no member', async () => {
    const closing = await startTcpServer('closing', (s) => s.end('bye\n'));
    const resetting = await startTcpServer('resetting', (s) => s.once('data', () => s.resetAndDestroy()));
    const refused = refusedPort();
    const { app, port, next } = await logged(single('tcp', pool('round-robin', [{ port: closing.port, id: 'closing' }, { port: resetting.port, id: 'resetting' }, { port: refused, id: 'refused' }]), { accessLog: true, retries: 0 }));
    const ends: [unknown, unknown][] = [];
    for (let i = 0; i < 3; i++) {
      await exchange(port, 'x');
      const line = await next(i + 1);
      ends.push([line.member, line.termination]);
    }
    assert.deepEqual(ends.sort(), [['closing', 'member-closed'], ['refused', 'connect-failed'], ['resetting', 'member-reset']].sort());
    for (const id of ['closing', 'resetting', 'refused']) app.runtime.member('p', id)!.setHealth('down', 'test');
    assert.equal((await exchange(port)).ending, 'reset');
    const none = await next(4);
    assert.deepEqual([none.member, none.pool, none.termination, none.bytes], [null, undefined, 'no-member', 0]);
  });

  it('writes nothing without access-log (the default)', async () => {
    const a = await startTcpServer('a', counting);
    const { port, connections } = await logged(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
    await exchange(port, 'x');
    // a second service that logs: its line comes after the first connection's end would have
    const b = await startTcpServer('b', counting);
    const other = await logged(single('tcp', pool('round-robin', [{ port: b.port, id: 'b' }]), { accessLog: true }));
    await exchange(other.port, 'y');
    await other.next(1);
    assert.equal(connections().length, 0);
  });

  it('writes the logs.access line format, with - for the fields a connection has not', async () => {
    const a = await startTcpServer('a', counting);
    const file = join(await tempDir('tcplog'), 'access.log');
    const parsed = parseTemplate('$client $service $pool/$member $protocol $bytes_in $bytes $termination "$method $path" $status');
    if (!parsed.ok) throw new Error(parsed.message);
    const config = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }]), { accessLog: true });
    const app = await startApp({ ...config, logs: { access: { format: 'line', fields: [], template: parsed.parts, to: { kind: 'file', path: file } }, process: { to: { kind: 'stdout' } }, syslog: null } });
    await exchange(app.address('svc').port, 'four');
    assert.deepEqual(await fileLines(file, 1), ['127.0.0.1 svc p/a tcp 4 6 client-closed "- -" -']);
  });
});

describe('tcp connection log with workers: 2', () => {
  it('writes JSON lines with the chosen fields from both worker threads', async () => {
    const a = await startTcpServer('a', counting);
    const file = join(await tempDir('tcplog'), 'access.json');
    const config = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }]), { accessLog: true });
    const app = await startApp({
      ...config, global: { ...config.global, workers: 2 },
      logs: { access: { format: 'json', fields: ['protocol', 'member', 'bytes-in', 'bytes', 'termination'], template: [], to: { kind: 'file', path: file } }, process: { to: { kind: 'stdout' } }, syslog: null },
    });
    const port = app.address('svc').port;
    // new connections until each worker has served some (the kernel spreads them by address and port)
    let n = 0;
    const bothServed = async () => (await app.workers!.stats()).every((w) => (w.served['p/a'] ?? 0) > 0);
    while (n < 4 || (!(await bothServed()) && n < 500)) {
      assert.equal(String((await exchange(port, 'abc')).data), 'got 3\n');
      n++;
    }
    assert.ok(await bothServed());
    const lines = await fileLines(file, n);
    assert.deepEqual(new Set(lines), new Set(['{"protocol":"tcp","member":"a","bytes-in":3,"bytes":6,"termination":"client-closed"}']));
    assert.equal(lines.length, n);
  });
});

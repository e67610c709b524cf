// What a tcp client sends before its member is connected (after a PROXY header, while it waits
// in the pool's queue) is held and then written to the member: every byte, in order. The handles
// engine hands the owner chunks that share one read buffer once a stream reads in bulk (a full
// 64 KiB read); the chunks held meanwhile must not be overwritten by the reads after them.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import type { Furiwake } from '../../src/app.ts';
import type { ServiceConfig } from '../../src/config/types.ts';
import { startApp } from '../helpers/app.ts';
import { exchange } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { refusedPort } from '../helpers/ports.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';
import { clientHelloBody, handshake, records, SESSION } from '../helpers/tls-handshake.ts';
import { until } from '../helpers/wait.ts';

/** As large as one read of the handles engine (handle-stream.ts READ_SIZE). */
const READ_SIZE = 64 * 1024;
/** The longest v1 line there is (107 bytes is the spec's bound): the most room for small reads after it. */
const V1_HEADER = 'PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd 65535 65534\r\n';

/** `bytes` of a counter per 4 bytes (0, 1, 2 ... big-endian): a byte out of place shows where. */
function pattern(bytes: number): Buffer {
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) buf.writeUInt32BE(i / 4, i);
  return buf;
}

/** The first offset where `got` differs from `want` (their length if one is a prefix of the other), or -1. */
function firstDifference(got: Buffer, want: Buffer): number {
  const n = Math.min(got.length, want.length);
  for (let i = 0; i < n; i++) if (got[i] !== want[i]) return i;
  return got.length === want.length ? -1 : n;
}

/** A member that keeps what each connection sends and answers its FIN with its own. */
async function recorder(): Promise<TcpServer & { got: Promise<Buffer>[] }> {
  const got: Promise<Buffer>[] = [];
  const server = await startTcpServer('recorder', (socket) => {
    const chunks: Buffer[] = [];
    const done = Promise.withResolvers<Buffer>();
    got.push(done.promise);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      socket.end();
      done.resolve(Buffer.concat(chunks));
    });
  });
  return Object.assign(server, { got });
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  socket.setNoDelay(true);
  socket.resume();
  return socket;
}

/**
 * The one member (max-connections 1) is held by another client, so the next one waits in the
 * queue; `release()` lets it through.
 */
async function queuedService(queueMax = 10, extra: Partial<ServiceConfig> = {}): Promise<{ app: Furiwake; port: number; member: Awaited<ReturnType<typeof recorder>>; release: () => void }> {
  const member = await recorder();
  // (no timer of the balancer may end a stuck test's wait: it fails at its own bound instead)
  const app = await startApp(single('tcp', pool('round-robin', [{ port: member.port, maxConnections: 1 }], { max: queueMax, timeout: 120_000 }), {
    acceptProxy: true, timeouts: { connect: 120_000, idle: 300_000 }, ...extra,
  }));
  const port = app.address('svc').port;
  const holder = await connect(port);
  // (5 bytes that are no TLS record: a service that reads ClientHellos has its head at once)
  holder.write('PROXY UNKNOWN\r\nhello');
  await until(() => member.accepted === 1);
  return { app, port, member, release: () => holder.destroy() };
}

/**
 * Sends the header and the rest of one full read at once (the head completes on a read that
 * fills the read buffer: the handles engine reads this stream into a buffer of its own from
 * then on), then, once the connection waits in the queue, reads too small to fill what may be
 * held (64 KiB), each waited for so each is a read of its own, then the rest of `payload`.
 */
async function fullReadThenSmallReads(app: Furiwake, port: number, payload: Buffer): Promise<net.Socket> {
  const header = Buffer.from(V1_HEADER, 'latin1');
  let sent = READ_SIZE - header.length;
  const client = await connect(port);
  client.write(Buffer.concat([header, payload.subarray(0, sent)]));
  await until(() => app.runtime.pools.get('p')!.queued === 1);
  const entry = [...app.runtime.connections.list({ service: 'svc' })].find((e) => e.member === null)!;
  await until(() => entry.bytesIn === READ_SIZE);
  for (let i = 0; i < 12; i++) {
    client.write(payload.subarray(sent, sent + 8));
    sent += 8;
    await until(() => entry.bytesIn === header.length + sent);
  }
  client.write(payload.subarray(sent));
  return client;
}

async function checkDelivered(member: Awaited<ReturnType<typeof recorder>>, index: number, payload: Buffer): Promise<void> {
  await until(() => member.got.length > index);
  const got = await member.got[index];
  const at = firstDifference(got, payload);
  assert.equal(at, -1, `${got.length} of ${payload.length} bytes at the member; first difference at byte ${at}`);
}

describeOnEachEngine('tcp first flight before the member is connected', () => {
  it('delivers small reads held after a full read, when a failed connect sent the client to the queue', async () => {
    const member = await recorder();
    const dead = refusedPort();
    const app = await startApp(single('tcp', pool('round-robin', [{ port: member.port, id: 'a', maxConnections: 1 }, { port: dead, id: 'dead' }], { max: 10, timeout: 120_000 }, {
      passiveHealth: { failures: 1, ejection: 60_000, maxEjection: 60_000, maxEjectedPercent: 50 },
    }), { acceptProxy: true }));
    const port = app.address('svc').port;
    // the holder takes a's one place (dead is out of the way meanwhile)
    app.runtime.member('p', 'dead')!.setAdmin('disabled');
    const holder = await connect(port);
    holder.write('PROXY UNKNOWN\r\n');
    await until(() => member.accepted === 1);
    app.runtime.member('p', 'dead')!.setAdmin('enabled');
    // the client is sent to dead, which refuses and is ejected; the retry finds a full: the queue
    const payload = pattern(256 * 1024);
    const client = await fullReadThenSmallReads(app, port, payload);
    holder.destroy();
    client.end();
    await checkDelivered(member, 1, payload);
    client.destroy();
  });

  it('delivers a PROXY header\'s 256 KiB first flight intact from the queue', async () => {
    const { app, port, member, release } = await queuedService();
    const payload = pattern(256 * 1024);
    const client = await connect(port);
    client.write(Buffer.concat([Buffer.from(V1_HEADER, 'latin1'), payload]));
    await until(() => app.runtime.pools.get('p')!.queued === 1);
    release();
    client.end();
    await checkDelivered(member, 1, payload);
    client.destroy();
  });

  it('reads a client waiting in the queue after its PROXY header, and holds small reads after a full one intact', { timeout: 30_000 }, async () => {
    const { app, port, member, release } = await queuedService();
    const payload = pattern(256 * 1024);
    const client = await fullReadThenSmallReads(app, port, payload);
    release();
    client.end();
    await checkDelivered(member, 1, payload);
    client.destroy();
  });

  it('frees the queue place of a client that resets while waiting after its PROXY header', { timeout: 30_000 }, async () => {
    const { app, port, member, release } = await queuedService();
    const pools = app.runtime.pools.get('p')!;
    const client = await connect(port);
    client.on('error', () => {});
    client.write(`${V1_HEADER}hello`);
    await until(() => pools.queued === 1);
    client.resetAndDestroy();
    await until(() => pools.queued === 0);
    // gone before the member had room: the member never sees it
    release();
    await app.runtime.connections.drained();
    assert.equal(member.accepted, 1);
  });

  it('reads a client turned away after its PROXY header (queue full) to its FIN, and closes cleanly', { timeout: 30_000 }, async () => {
    const { app, port, release } = await queuedService(0);
    const result = await exchange(port, `${V1_HEADER}hello`);
    assert.equal(result.ending, 'end');
    assert.equal(result.data.length, 0);
    // its entry goes as soon as both FINs have crossed, not at a timeout
    await until(() => app.runtime.connections.size === 1);
    release();
  });

  it('tls-session: delivers the ClientHello read to choose the member and small reads after a full read intact from the queue', { timeout: 30_000 }, async () => {
    const { app, port, member, release } = await queuedService(10, {
      persistence: { method: 'tls-session', whenFull: 'repin', timeout: 60_000, maxEntries: 1000 },
    });
    // what the member gets: the ClientHello (its record first), then the patterned bytes
    const hello = records(22, handshake(1, clientHelloBody({ session: SESSION })));
    const payload = Buffer.concat([hello, pattern(256 * 1024)]);
    const client = await fullReadThenSmallReads(app, port, payload);
    release();
    client.end();
    await checkDelivered(member, 1, payload);
    client.destroy();
  });
});

// The known HTTP/2 attacks against a client-facing h2 service: rapid reset (CVE-2023-44487),
// CONTINUATION flood, PING and SETTINGS floods. The attacker's connection is closed with GOAWAY
// (ENHANCE_YOUR_CALM for rapid reset), the closing is counted per service and reason, and
// another client on the same service keeps being served. The frames are written raw here (no
// client library sends an attack); the service reads them with nghttp2.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { Furiwake } from '../../../src/app.ts';
import { pool } from '../../helpers/config.ts';
import { until } from '../../helpers/wait.ts';
import { h2Connect, h2Request, h2cService } from './h2-helpers.ts';
import { startMember } from './helpers.ts';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const HEADERS = 1;
const RST_STREAM = 3;
const SETTINGS = 4;
const PING = 6;
const GOAWAY = 7;
const CONTINUATION = 9;
const END_STREAM = 1;
const END_HEADERS = 4;
const ENHANCE_YOUR_CALM = 0xb;

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** GET / with :authority www.h2.test, in HPACK: indexed :method GET, :scheme http, :path /, then a literal :authority. */
const REQUEST_BLOCK = Buffer.concat([Buffer.from([0x82, 0x86, 0x84, 0x41, 11]), Buffer.from('www.h2.test')]);

interface Attack {
  /** the GOAWAY's error code, or -1 when the connection closed without one */
  goaway: number;
}

/**
 * Writes `frames` after the preface and an empty SETTINGS, `batch` frames per write, each write
 * once the service has had a turn to read the one before (as a flood comes over a network: in
 * many reads); resolves when the service closes the connection.
 */
async function attack(port: number, frames: Buffer[], batch = frames.length): Promise<Attack> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await once(socket, 'connect');
  // (once() would reject on the EPIPE of a write after the service closed)
  const closed = new Promise((resolve) => socket.once('close', resolve));
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0)), ...frames.slice(0, batch)]));
  for (let at = batch; at < frames.length && !socket.destroyed; at += batch) {
    await new Promise((resolve) => setImmediate(resolve));
    socket.write(Buffer.concat(frames.slice(at, at + batch)));
  }
  await closed;
  const got = Buffer.concat(chunks);
  let goaway = -1;
  for (let at = 0; at + 9 <= got.length;) {
    const length = got.readUIntBE(at, 3);
    if (got[at + 3] === GOAWAY && at + 17 <= got.length && goaway === -1) goaway = got.readUInt32BE(at + 13);
    at += 9 + length;
  }
  return { goaway };
}

function refusals(app: Furiwake): Record<string, number> {
  return Object.fromEntries(app.runtime.resources.http2Refusals.get('svc') ?? []);
}

describe('HTTP/2 floods', () => {
  it('closes a rapid-reset attacker with GOAWAY ENHANCE_YOUR_CALM while another client keeps being served', async () => {
    const m = await startMember('a');
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port }]));
    const good = h2Connect(port, false);
    assert.equal((await h2Request(good, { ':path': '/before' })).status, 200);
    const frames: Buffer[] = [];
    for (let i = 0; i < 2000; i++) {
      const id = 1 + 2 * i;
      frames.push(frame(HEADERS, END_STREAM | END_HEADERS, id, REQUEST_BLOCK), frame(RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
    }
    const result = await attack(port, frames, 100);
    assert.equal(result.goaway, ENHANCE_YOUR_CALM);
    assert.deepEqual(refusals(app), { 'rapid-reset': 1 });
    // far fewer than the 2000 streams reached a member: the bound is per second, 100 by default
    assert.ok(m.requests.length < 500, `${m.requests.length} requests reached the member`);
    assert.equal((await h2Request(good, { ':path': '/after' })).status, 200);
    good.close();
  });

  it('closes a burst of resets that comes in one read, counted, while another client keeps being served', async () => {
    const m = await startMember('a');
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port }]));
    const good = h2Connect(port, false);
    const frames: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const id = 1 + 2 * i;
      frames.push(frame(HEADERS, END_STREAM | END_HEADERS, id, REQUEST_BLOCK), frame(RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
    }
    // nghttp2's own bound (10 x max-resets-per-second at once) acts before furiwake has seen the resets
    const result = await attack(port, frames);
    assert.notEqual(result.goaway, -1);
    const counted = refusals(app);
    assert.equal((counted['protocol-error'] ?? 0) + (counted['rapid-reset'] ?? 0), 1, JSON.stringify(counted));
    assert.equal((await h2Request(good, { ':path': '/after' })).status, 200);
    good.close();
  });

  it('lets a client reset streams below the bound', async () => {
    const m = await startMember('a');
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port }]), { http2: { h2c: true, maxConcurrentStreams: 100, maxResetsPerSecond: 100 } });
    const session = h2Connect(port, false);
    for (let i = 0; i < 20; i++) session.request({ ':path': `/cancelled${i}` }).close(8);
    assert.equal((await h2Request(session, { ':path': '/next' })).status, 200);
    assert.deepEqual(refusals(app), {});
    session.close();
  });

  it('closes a CONTINUATION flood, counted, while another client keeps being served', async () => {
    const m = await startMember('a');
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port }]));
    const good = h2Connect(port, false);
    const frames = [frame(HEADERS, 0, 1, REQUEST_BLOCK)];
    // literal fields without indexing, never ending the header block
    for (let i = 0; i < 10_000; i++) frames.push(frame(CONTINUATION, 0, 1, Buffer.from([0x00, 1, 0x78, 1, 0x79])));
    const result = await attack(port, frames);
    assert.notEqual(result.goaway, -1);
    assert.deepEqual(refusals(app), { 'continuation-flood': 1 });
    assert.equal(m.requests.length, 0);
    assert.equal((await h2Request(good, { ':path': '/' })).status, 200);
    good.close();
  });

  it('closes PING and SETTINGS floods whose answers are not read', async () => {
    const m = await startMember('a');
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port }]));
    const good = h2Connect(port, false);
    const floods = [
      Array.from({ length: 500_000 }, () => frame(PING, 0, 0, Buffer.alloc(8))),
      Array.from({ length: 500_000 }, () => frame(SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100]))),
    ];
    for (const [i, frames] of floods.entries()) {
      // the answers (PING and SETTINGS acknowledgements) pile up at the service, unread
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.on('error', () => {});
      await once(socket, 'connect');
      socket.pause();
      socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0)), ...frames]));
      await until(() => refusals(app)['control-frame-flood'] === i + 1);
      socket.destroy();
    }
    assert.equal((await h2Request(good, { ':path': '/' })).status, 200);
    good.close();
  });
});

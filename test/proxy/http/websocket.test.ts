// Upgrade tunnels: a WebSocket handshake goes through, the 101 comes back, and from then on
// bytes flow both ways untouched (a frame sent is echoed back). The member stays counted
// while the tunnel lives and is given back when either side closes.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { httpConfig, startMember, type HttpMember } from './helpers.ts';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One WebSocket frame with FIN set: text, or close (opcode 8). Client frames are masked. */
function frame(payload: Buffer, opcode: number, mask: boolean): Buffer {
  const head = [0x80 | opcode];
  const len = payload.length;
  if (len < 126) head.push((mask ? 0x80 : 0) | len);
  else head.push((mask ? 0x80 : 0) | 126, len >> 8, len & 0xff);
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** Reads one frame from `buf` (enough bytes assumed): its opcode and unmasked payload, and its size. */
function readFrame(buf: Buffer): { opcode: number; payload: Buffer; size: number } | null {
  if (buf.length < 2) return null;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let at = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    at = 4;
  }
  const key = masked ? buf.subarray(at, at + 4) : null;
  if (masked) at += 4;
  if (buf.length < at + len) return null;
  const payload = Buffer.from(buf.subarray(at, at + len));
  if (key !== null) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i % 4];
  return { opcode: buf[0] & 0x0f, payload, size: at + len };
}

/** A member that accepts WebSocket upgrades and echoes every text frame back. */
async function echoMember(): Promise<HttpMember> {
  const m = await startMember('ws');
  m.server.on('upgrade', (req, socket: net.Socket, head: Buffer) => {
    const accept = createHash('sha1').update(String(req.headers['sec-websocket-key']) + GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    let pending = head;
    socket.on('data', (c: Buffer) => {
      pending = Buffer.concat([pending, c]);
      let f;
      while ((f = readFrame(pending)) !== null) {
        pending = pending.subarray(f.size);
        if (f.opcode === 8) {
          socket.end(frame(f.payload, 8, false));
          return;
        }
        socket.write(frame(f.payload, 1, false));
      }
    });
    socket.on('error', () => {});
  });
  return m;
}

/** Does the client side of the handshake; resolves with the socket and what followed the 101. */
async function upgrade(port: number): Promise<{ socket: net.Socket; head: string; rest: Buffer }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await once(socket, 'connect');
  const key = Buffer.from('0123456789abcdef').toString('base64');
  socket.write(`GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let got = Buffer.alloc(0);
  for (;;) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    got = Buffer.concat([got, chunk]);
    const end = got.indexOf('\r\n\r\n');
    if (end !== -1) {
      socket.pause();
      return { socket, head: got.subarray(0, end).toString('latin1'), rest: got.subarray(end + 4) };
    }
  }
}

async function nextFrame(socket: net.Socket, pending: Buffer): Promise<{ opcode: number; payload: Buffer }> {
  let buf = pending;
  socket.resume();
  for (;;) {
    const f = readFrame(buf);
    if (f !== null) {
      socket.pause();
      return f;
    }
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    buf = Buffer.concat([buf, chunk]);
  }
}

describeOnEachEngine('upgrade tunnels', () => {
  it('carries a WebSocket: handshake, a frame echoed, close', async () => {
    const m = await echoMember();
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, id: 'ws' }])));
    const { socket, head, rest } = await upgrade(app.address('svc').port);
    assert.match(head, /^HTTP\/1.1 101 Switching Protocols\r\n/);
    assert.match(head, /\r\nupgrade: websocket/i);
    assert.match(head, /\r\nconnection: upgrade/i);
    const expected = createHash('sha1').update(Buffer.from('0123456789abcdef').toString('base64') + GUID).digest('base64');
    assert.match(head, new RegExp(`\\r\\nSec-WebSocket-Accept: ${expected.replace(/[+/]/g, '\\$&')}`));
    assert.equal(m.requests.length, 0); // the member saw an upgrade, not a request
    assert.equal(app.runtime.member('p', 'ws')!.active, 1);

    const message = Buffer.from('hello through furiwake '.repeat(20));
    socket.write(frame(message, 1, true));
    const echoed = await nextFrame(socket, rest);
    assert.equal(echoed.opcode, 1);
    assert.deepEqual(echoed.payload, message);

    socket.write(frame(Buffer.alloc(0), 8, true));
    socket.resume();
    await once(socket, 'end');
    socket.end();
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 'ws')!.active, 0);
  });

  it('passes a refused upgrade on as an ordinary response', async () => {
    const m = await startMember('plain', (_req, res) => {
      res.statusCode = 426;
      res.end('no websockets here');
    });
    // without an 'upgrade' listener node answers upgrade requests as plain requests
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const { socket, head, rest } = await upgrade(app.address('svc').port);
    assert.match(head, /^HTTP\/1.1 426 /);
    socket.resume();
    assert.ok(rest.length <= 'no websockets here'.length);
    socket.destroy();
  });

  it('ends the tunnel and gives the member back when the client goes away', async () => {
    const m = await echoMember();
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, id: 'ws' }])));
    const { socket } = await upgrade(app.address('svc').port);
    assert.equal(app.runtime.member('p', 'ws')!.active, 1);
    socket.destroy();
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 'ws')!.active, 0);
  });
});

// A response body's bytes are read into one buffer again and again (no buffer per read), unless
// a write still holds them: clients that read slowly (every write to them waits, holding its
// chunk) while another client keeps taking the member connection they give back get every byte
// as the member sent it, and so does the other client. (The moment when a slow client's last
// write still waits as its member connection is taken was not seen to come in this test's runs:
// it guards the bytes, not that moment.)

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { httpConfig, startMember } from './helpers.ts';

/** Byte i of response n: a period (251) that no buffer size divides, shifted per response. */
function expected(n: number, i: number): number {
  return (i + n * 17) % 251;
}

function body(n: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = expected(n, i);
  return out;
}

/** When each response first had to wait for its reader (the whole path to the client is full). */
const stalled = new Map<number, () => void>();
function stallOf(n: number): Promise<void> {
  return new Promise((resolve) => stalled.set(n, resolve));
}

/** A member answering GET /N/SIZE with SIZE bytes of response N, in 64 KiB writes. */
async function patternMember() {
  return startMember('pattern', (req, res) => {
    const [, n, size] = req.url!.split('/').map(Number);
    const all = body(n, size);
    res.writeHead(200, { 'content-length': String(size) });
    let at = 0;
    const more = (): void => {
      while (at < size) {
        const part = all.subarray(at, (at += 64 * 1024));
        if (!res.write(part)) {
          stalled.get(n)?.();
          return void res.once('drain', more);
        }
      }
      res.end();
    };
    more();
  });
}

/** GET /n/size on a raw connection, read in small steps with a pause between them; the bytes compared as they come. */
async function slowGet(port: number, n: number, size: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  // nothing is read until the path is full: then furiwake's writes to this client wait, each
  // holding the chunk it was given, as long as the client reads slowly
  socket.pause();
  const stall = stallOf(n);
  socket.write(`GET /${n}/${size} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
  await stall;
  let head = '';
  let at = -1;
  let bad = -1;
  socket.on('data', (chunk: Buffer) => {
    let from = 0;
    if (at === -1) {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      from = chunk.length - (head.length - end - 4);
      at = 0;
    }
    for (let i = from; i < chunk.length; i++, at++) if (bad === -1 && chunk[i] !== expected(n, at)) bad = at;
    socket.pause();
    setTimeout(() => socket.resume(), 1);
  });
  socket.resume();
  await once(socket, 'close');
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.equal(bad, -1, `response ${n}: byte ${bad} is not what the member sent`);
  assert.equal(at, size, `response ${n}: ${at} of ${size} bytes`);
}

async function get(agent: http.Agent, port: number, n: number, size: number): Promise<void> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: `/${n}/${size}`, agent }, resolve).on('error', reject);
  });
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const got = Buffer.concat(chunks);
  assert.equal(got.length, size);
  assert.ok(got.equals(body(n, size)), `response ${n} is not what the member sent`);
}

describeOnEachEngine('response bodies read into a reused buffer', () => {
  it('reach a slow client and a fast one on the same member connection intact', async () => {
    const m = await patternMember();
    // one idle member connection at most: the fast client's next request takes the one a slow client just gave back
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { memberKeepAlive: { maxIdle: 1, idleTimeout: 30_000 } }));
    const port = app.address('svc').port;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      let slowDone = false;
      const slow = Promise.all([slowGet(port, 1, 6 * 1024 * 1024), slowGet(port, 2, 4 * 1024 * 1024)]).finally(() => (slowDone = true));
      // the fast client asks on and on while the slow ones read: it takes their member
      // connections as soon as they go back to the idle list
      let n = 100;
      while (!slowDone) await get(agent, port, n++, 200 * 1024 + n);
      for (let k = 0; k < 5; k++) await get(agent, port, n++, 300 * 1024);
      await slow;
    } finally {
      agent.destroy();
    }
  });
});

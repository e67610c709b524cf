// Attacks on the heads read in place (lent reads, client-bytes.ts, request-head.ts): pipelined
// requests with bodies, split at every byte into two reads, and sent a byte per read; a client that
// sends its next request while the body of the one before still streams. Each piece is written
// once the balancer has read the one before (its connection's byte count says so), so the reads
// really are apart, with other clients' reads landing between them in the shared read buffer.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import type { Furiwake } from '../../../src/app.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { until } from '../../helpers/wait.ts';
import { connection, httpConfig, startMember } from './helpers.ts';

/** Three requests and a last one that closes: a body by length, a chunked body with a trailer, a GET. */
const STREAM = [
  'POST /a HTTP/1.1\r\nHost: h\r\nX-Mark: one\r\nContent-Length: 5\r\n\r\nhello',
  'POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Mark: two\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n',
  'GET /c HTTP/1.1\r\nHost: h\r\nX-Mark: three\r\n\r\n',
  'GET /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
].join('');
const EXPECTED = ['POST /a one hello', 'POST /b two abcde', 'GET /c three ', 'GET /d  '];

/** The bytes the balancer has read from the client at local port `port` so far (0 before its entry is made). */
function bytesRead(app: Furiwake, port: number): number {
  for (const entry of app.runtime.connections.list()) if (entry.service === 'svc' && entry.client.port === port) return entry.bytesIn;
  return 0;
}

/** Another client's request, answered: its read lands in the shared read buffer between ours. */
async function meanwhile(port: number): Promise<void> {
  const c = await connection(port);
  await c.send(`GET /other HTTP/1.1\r\nHost: zzzzzzzzzzzzzzzz\r\nX-Mark: ${'z'.repeat(300)}\r\n\r\n`);
  await c.close();
}

/** Writes `pieces` one read apart (the next once the balancer has read the last), then reads to the close. */
async function sendApart(app: Furiwake, port: number, pieces: Buffer[], between?: () => Promise<void>): Promise<string> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const closed = once(socket, 'close');
  socket.on('error', () => {});
  let sent = 0;
  for (const piece of pieces) {
    socket.write(piece);
    sent += piece.length;
    const want = sent;
    await until(() => bytesRead(app, socket.localPort!) >= want || socket.destroyed);
    if (between !== undefined) await between();
  }
  await closed;
  return Buffer.concat(chunks).toString('latin1');
}

/** The bodies of the responses in `text` (each with a Content-Length), in order. */
function bodies(text: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    assert.notEqual(end, -1, `a whole head at ${at}: ${JSON.stringify(text.slice(at))}`);
    const head = text.slice(at, end);
    assert.match(head, /^HTTP\/1\.1 200 /, head);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
    out.push(text.slice(end + 4, end + 4 + length));
    at = end + 4 + length;
  }
  return out;
}

describeOnEachEngine('pipelined requests read in place', () => {
  async function setup(): Promise<{ app: Furiwake; port: number }> {
    const m = await startMember('m', (req, res, body) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`${req.method} ${req.url} ${req.headers['x-mark'] ?? ''} ${body.toString('latin1')}`);
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    return { app, port: app.address('svc').port };
  }

  it('split in two at every byte: each request reaches the member as sent and each gets its response, in order', async () => {
    const { app, port } = await setup();
    const all = Buffer.from(STREAM, 'latin1');
    for (let at = 1; at < all.length; at++) {
      const got = await sendApart(app, port, [all.subarray(0, at), all.subarray(at)], at % 16 === 0 ? () => meanwhile(port) : undefined);
      assert.deepEqual(bodies(got), EXPECTED, `split at ${at}`);
    }
  });

  it('a byte per read, other clients read between some of them', async () => {
    const { app, port } = await setup();
    const all = Buffer.from(STREAM, 'latin1');
    const pieces: Buffer[] = [];
    for (let i = 0; i < all.length; i++) pieces.push(all.subarray(i, i + 1));
    let n = 0;
    const got = await sendApart(app, port, pieces, () => (n++ % 7 === 0 ? meanwhile(port) : Promise.resolve()));
    assert.deepEqual(bodies(got), EXPECTED);
  });
});

describeOnEachEngine('the next request sent while a large body still streams', () => {
  it('waits behind the body (by length, then chunked) read slowly by the member, and both reach it intact', async () => {
    const seen: string[] = [];
    const m = await startMember('m', (req, res) => {
      let n = 0;
      let sum = 0;
      req.on('data', (c: Buffer) => {
        for (const b of c) sum = (sum * 31 + b) % 1_000_003;
        n += c.length;
        // read slowly: the path from the client fills and furiwake pauses its reads
        req.pause();
        setImmediate(() => req.resume());
      });
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${n} ${sum}`);
        res.setHeader('content-type', 'text/plain');
        res.end(`${req.url} ${n} ${sum}`);
      });
    }, { stream: true });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const port = app.address('svc').port;
    const body = Buffer.alloc(1_500_000);
    let sum = 0;
    for (let i = 0; i < body.length; i++) {
      body[i] = (i * 13) % 256;
      sum = (sum * 31 + body[i]) % 1_000_003;
    }
    const chunked = Buffer.concat([Buffer.from(`${(700_000).toString(16)}\r\n`), body.subarray(0, 700_000), Buffer.from(`\r\n${(800_000).toString(16)}\r\n`), body.subarray(700_000), Buffer.from('\r\n0\r\n\r\n')]);
    const socket = net.connect({ port, host: '127.0.0.1' });
    await once(socket, 'connect');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const closed = once(socket, 'close');
    socket.write(`POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body.subarray(0, body.length - 10));
    // the body's last bytes, the next request (chunked) and the one after it, in one write
    socket.write(Buffer.concat([body.subarray(body.length - 10), Buffer.from('POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'), chunked.subarray(0, 100)]));
    socket.write(Buffer.concat([chunked.subarray(100), Buffer.from('GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')]));
    await closed;
    assert.deepEqual(bodies(Buffer.concat(chunks).toString('latin1')), [`/a ${body.length} ${sum}`, `/b ${body.length} ${sum}`, '/c 0 0']);
    assert.deepEqual(seen, [`POST /a ${body.length} ${sum}`, `POST /b ${body.length} ${sum}`, 'GET /c 0 0']);
  });
});

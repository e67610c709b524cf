// Attacks on response heads read in place (a member's reads lent to the exchange while its head is
// awaited): interim heads, a final head and its body split at every byte, a 101 with the tunnel's
// first bytes behind it split at every byte, and members that close at every byte of a head. The
// member is a raw TCP server that writes each response in two pieces, a few loop turns apart.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { startTcpServer } from '../../helpers/servers.ts';
import { h2Connect, h2cService, h2Request } from './h2-helpers.ts';
import { connection, httpConfig, raw } from './helpers.ts';

const INTERIM_AND_FINAL = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Mark: r\r\n\r\nhello';
const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Mark: s\r\n\r\n5\r\nworld\r\n0\r\n\r\n';

/** A few turns of the loop: the piece before is read apart from the next, most of the time. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Writes `text` in two pieces split at `at`, a few turns apart. */
async function writeSplit(socket: net.Socket, text: string, at: number): Promise<void> {
  const all = Buffer.from(text, 'latin1');
  socket.write(all.subarray(0, at));
  await turns(3);
  if (!socket.destroyed) socket.write(all.subarray(at));
}

/** A member that answers the n-th request head of each connection with responses[n], split where split() says. */
async function splittingMember(responses: string[], split: () => number) {
  return startTcpServer('m', (socket) => {
    socket.setNoDelay(true);
    let got = '';
    let n = 0;
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      let end: number;
      while ((end = got.indexOf('\r\n\r\n')) !== -1) {
        got = got.slice(end + 4);
        const text = responses[n++ % responses.length];
        void writeSplit(socket, text, Math.min(split(), text.length - 1) || 1);
      }
    });
    socket.on('end', () => socket.end());
  });
}

describeOnEachEngine('response heads read in place', () => {
  it('interim heads, a final head and its body, then a chunked response on the kept connection, split at every byte', async () => {
    let at = 0;
    const m = await splittingMember([INTERIM_AND_FINAL, CHUNKED], () => at);
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port, maxConnections: 1 }])));
    const c = await connection(app.address('svc').port);
    const longest = Math.max(INTERIM_AND_FINAL.length, CHUNKED.length);
    for (at = 1; at < longest; at++) {
      const first = await c.send('GET /1 HTTP/1.1\r\nHost: h\r\n\r\n', (t) => t.endsWith('\r\n\r\nhello'));
      assert.equal(first, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n' + first.slice(first.indexOf('HTTP/1.1 200')), `split at ${at}`);
      assert.match(first, /HTTP\/1\.1 200 OK\r\nX-Mark: r\r\n.*content-length: 5\r\n\r\nhello$/is, `split at ${at}`);
      const second = await c.send('GET /2 HTTP/1.1\r\nHost: h\r\n\r\n', (t) => t.endsWith('0\r\n\r\n'));
      assert.match(second, /^HTTP\/1\.1 200 OK\r\nX-Mark: s\r\n.*\r\n\r\n5\r\nworld\r\n0\r\n\r\n$/is, `split at ${at}`);
    }
    await c.close();
    assert.equal(m.accepted, 1, 'one member connection, kept throughout');
  });

  it('a 101 and the tunnel bytes that follow it, split at every byte: the client gets them in order, and the tunnel carries both ways', async () => {
    const SWITCH = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nFIRST-TUNNEL-BYTES';
    for (let at = 1; at < SWITCH.length; at++) {
      const m = await startTcpServer('m', (socket) => {
        let got = '';
        let upgraded = false;
        socket.on('data', (c: Buffer) => {
          got += c.toString('latin1');
          if (!upgraded && got.includes('\r\n\r\n')) {
            upgraded = true;
            got = got.slice(got.indexOf('\r\n\r\n') + 4);
            void writeSplit(socket, SWITCH, at);
          }
          if (upgraded && got.includes('ping')) {
            got = '';
            socket.write('pong');
          }
        });
        socket.on('end', () => socket.end());
      });
      const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
      const c = await connection(app.address('svc').port);
      const head = await c.send('GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n', (t) => t.endsWith('FIRST-TUNNEL-BYTES'));
      assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*\r\n\r\nFIRST-TUNNEL-BYTES$/, `split at ${at}`);
      assert.equal(await c.send('ping', (t) => t === 'pong'), 'pong');
      await c.close();
      await app.stop(0);
      await m.close();
    }
  });

  it('a member that closes at every byte of its head: a 502 (never a part of its head), and the member connection is not kept', async () => {
    const RESPONSE = 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
    const headEnd = RESPONSE.lastIndexOf('\r\n\r\n') + 4;
    let at = 0;
    const m = await startTcpServer('m', (socket) => {
      socket.once('data', () => {
        socket.write(RESPONSE.slice(0, at));
        socket.end();
      });
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), {}, { retries: 0 }));
    const port = app.address('svc').port;
    for (at = 1; at < headEnd; at++) {
      const got = await raw(port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
      // (an interim head that came whole went on before the close)
      const final = at >= RESPONSE.indexOf('HTTP/1.1 200') ? got.text.slice(got.text.indexOf('\r\n\r\n') + 4) : got.text;
      assert.match(final, /^HTTP\/1\.1 502 /, `closed after ${at} bytes: ${JSON.stringify(got.text)}`);
      assert.ok(!got.text.includes('HTTP/1.1 200'), `closed after ${at} bytes`);
    }
  });
});

describeOnEachEngine('response heads read in place, to an HTTP/2 client', () => {
  it('interim heads, a final head and its body, then a chunked response on the kept member connection, split at every byte', async () => {
    let at = 0;
    const m = await splittingMember([INTERIM_AND_FINAL, CHUNKED], () => at);
    const { port } = await h2cService(pool('round-robin', [{ port: m.port, maxConnections: 1 }]));
    const session = h2Connect(port, false);
    const longest = Math.max(INTERIM_AND_FINAL.length, CHUNKED.length);
    for (at = 1; at < longest; at++) {
      const first = await h2Request(session, { ':path': '/1' });
      assert.deepEqual([first.status, first.headers['x-mark'], first.body.toString()], [200, 'r', 'hello'], `split at ${at}`);
      const second = await h2Request(session, { ':path': '/2' });
      assert.deepEqual([second.status, second.headers['x-mark'], second.body.toString()], [200, 's', 'world'], `split at ${at}`);
    }
    session.close();
    assert.equal(m.accepted, 1, 'one member connection, kept throughout');
  });
});

// A client's reads are lent to its connection uncopied (the handles engine's shared read
// buffer, handle-stream.ts), which the next read of any connection overwrites: whatever the
// connection keeps past a read must be its own copy. Here other clients' reads land in between
// while one client's bytes wait: a head in two pieces, a pipelined request, a body that came with
// its head before the member connection is open. Each must reach the member as it was sent.
// So are a member's reads while its response head is awaited: a head in two pieces, with other
// responses read in between, and first body bytes too many to go out with the head as text.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { startTcpServer } from '../../helpers/servers.ts';
import { until } from '../../helpers/wait.ts';
import { bodyOf, connection, httpConfig, startMember } from './helpers.ts';

/** Another client's request, sent and answered: its read lands where the others' did. */
async function meanwhile(port: number, n: number): Promise<void> {
  const c = await connection(port);
  for (let i = 0; i < n; i++) await c.send(`GET /other-${'o'.repeat(100)}-${i} HTTP/1.1\r\nHost: zzzzzzzzzzzzzzzzzzzz\r\nX-Filler: ${'z'.repeat(200)}\r\n\r\n`);
  await c.close();
}

describeOnEachEngine('reads lent to a client connection', () => {
  it('a head in pieces, a pipelined request and an early body reach the member intact while other clients are read', async () => {
    const m = await startMember('m', (req, res, body) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`${req.url} ${req.headers['x-mark'] ?? ''} ${body.toString('latin1')}`);
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const port = app.address('svc').port;

    // a head in two reads, another client read between them
    const a = await connection(port);
    a.socket.write('GET /first-piece HTTP/1.1\r\nHost: a\r\nX-Ma');
    await meanwhile(port, 3);
    const first = await a.send('rk: aaaa\r\n\r\n');
    assert.equal(bodyOf(first), '/first-piece aaaa ');

    // two requests in one read: the second waits for the first's response, other clients are read meanwhile
    const held = Promise.withResolvers<void>();
    let slow = 0;
    const m2 = await startMember('m2', (req, res, body) => {
      res.setHeader('content-type', 'text/plain');
      const answer = (): void => {
        res.end(`${req.url} ${req.headers['x-mark'] ?? ''} ${body.toString('latin1')}`);
      };
      if (req.url === '/slow' && slow++ === 0) held.promise.then(answer, answer);
      else answer();
    });
    const app2 = await startApp(httpConfig(pool('round-robin', [{ port: m2.port }])));
    const port2 = app2.address('svc').port;
    const b = await connection(port2);
    const both = b.send(
      'GET /slow HTTP/1.1\r\nHost: b\r\n\r\nPOST /second HTTP/1.1\r\nHost: b\r\nX-Mark: bbbb\r\nContent-Length: 11\r\n\r\nhello world',
      (got) => got.includes('/second bbbb hello world'),
    );
    await until(() => m2.requests.length === 1);
    await meanwhile(port2, 3);
    held.resolve();
    const text = await both;
    assert.ok(text.includes('/slow  '), text);
    assert.ok(text.includes('/second bbbb hello world'), text);

    // a body in the same read as its head, held while it waits in the queue for the busy member
    const held3 = Promise.withResolvers<void>();
    const m3 = await startMember('m3', (req, res, body) => {
      res.setHeader('content-type', 'text/plain');
      const answer = (): void => {
        res.end(`${req.url} ${req.headers['x-mark'] ?? ''} ${body.toString('latin1')}`);
      };
      if (req.url === '/busy') held3.promise.then(answer, answer);
      else answer();
    });
    const app3 = await startApp(httpConfig(pool('round-robin', [{ port: m3.port, maxConnections: 1 }], { max: 10 })));
    const port3 = app3.address('svc').port;
    const busy = await connection(port3);
    const busyDone = busy.send('GET /busy HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => m3.requests.length === 1);
    const c = await connection(port3);
    const pending = c.send('POST /early HTTP/1.1\r\nHost: c\r\nX-Mark: cccc\r\nContent-Length: 12\r\n\r\nearly bytes!');
    const other = meanwhile(port3, 1);
    await until(() => app3.runtime.pools.get('p')!.queued >= 2);
    held3.resolve();
    await busyDone;
    assert.equal(bodyOf(await pending), '/early cccc early bytes!');
    await other;
    await busy.close();
    for (const conn of [a, b, c]) await conn.close();
  });

  it('a response head in pieces and a large first body reach the client intact while other responses are read', async () => {
    const other = await startMember('other', (req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`other ${'o'.repeat(300)} ${req.url}`);
    });
    const next = Promise.withResolvers<void>();
    const body = Buffer.alloc(10_000, 0x62);
    const slow = await startTcpServer('slow', (socket) => {
      socket.on('data', (c: Buffer) => {
        const text = c.toString('latin1');
        if (text.startsWith('GET /pieces')) {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Ma');
          void next.promise.then(() => socket.write('rk: mmmm\r\n\r\nhello'));
        } else {
          socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nX-Mark: big\r\n\r\n`), body]));
        }
      });
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: slow.port }])));
    const otherApp = await startApp(httpConfig(pool('round-robin', [{ port: other.port }])));
    const a = await connection(app.address('svc').port);
    const pieces = a.send('GET /pieces HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => slow.accepted === 1);
    await meanwhile(otherApp.address('svc').port, 3);
    next.resolve();
    const text = await pieces;
    assert.match(text, /\r\nX-Mark: mmmm\r\n/);
    assert.equal(bodyOf(text), 'hello');
    const big = await a.send('GET /big HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.match(big, /\r\nX-Mark: big\r\n/);
    assert.ok(bodyOf(big) === body.toString('latin1'), 'the large first body as sent');
    await a.close();
  });
});

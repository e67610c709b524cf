// Found reviewing the split of the exchange from its client connection (ClientStream): what a
// stranger's attack on loopback showed, pinned.

import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, describe, it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { freePort } from '../../helpers/ports.ts';
import { startTcpServer } from '../../helpers/servers.ts';
import { connection, headerOf, httpConfig, raw, startMember } from './helpers.ts';

describe('a request that fails while it waits in the pool queue', () => {
  it('leaves the queue: the member slot it would have got goes to the next request, and the member never sees it', async () => {
    let holding: http.ServerResponse | null = null;
    let held!: () => void;
    const isHeld = new Promise<void>((resolve) => (held = resolve));
    const member = await startMember('m', (req, res) => {
      if (req.url === '/hold') {
        holding = res;
        held();
        return;
      }
      res.end(`m ${req.method} ${req.url}`);
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: member.port, maxConnections: 1 }], { timeout: 2_000 })));
    const svc = app.address('svc').port;
    // A takes the member's only slot
    const a = raw(svc, 'GET /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await isHeld;
    // B queues with an upload, then breaks it off: a malformed chunk, and a close halfway
    const bad = await raw(svc, 'POST /bad-chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n');
    assert.equal(bad.status, 400);
    const cut = await raw(svc, 'POST /cut HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789', { halfClose: true });
    assert.equal(cut.status, 400);
    // A ends: the slot goes to C, not to B's requests that are gone
    (holding as http.ServerResponse | null)!.end('done');
    assert.equal((await a).status, 200);
    const c = await raw(svc, 'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(c.status, 200, c.text);
    assert.deepEqual(member.requests.map((r) => r.url), ['/hold', '/c']);
  });
});

describe('our own answers to an HTTP/1.0 client that asked for keep-alive', () => {
  // An HTTP/1.0 response without `connection: keep-alive` tells the client the connection ends
  // (RFC 9112 9.3): the member's responses say it; ours said nothing, yet the connection was kept.
  it('say keep-alive when the connection is kept, as the members\' responses do', async () => {
    const port = await freePort();
    const app = await startApp(httpConfig(pool('round-robin', [{ port }]), {}, { retries: 0 }));
    const c = await connection(app.address('svc').port);
    for (const method of ['GET', 'HEAD']) {
      const got = await c.send(`${method} / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`, (t) => method === 'HEAD' ? t.includes('\r\n\r\n') : /\n\n?$/.test(t) && t.includes('cannot connect'));
      assert.match(got, /^HTTP\/1\.1 502 /);
      assert.equal(headerOf(got, 'connection'), 'keep-alive');
    }
    await c.close();
    // without keep-alive asked, it closes as before
    const once = await raw(app.address('svc').port, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.equal(headerOf(once.text, 'connection'), 'close');
    assert.equal(once.ending, 'end');
  });

  it('say keep-alive on a redirect to https too', async () => {
    const m = await startMember('m');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { redirectHttps: { port: 8443, status: 308 } }));
    const c = await connection(app.address('svc').port);
    const got = await c.send('GET /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    assert.match(got, /^HTTP\/1\.1 308 /);
    assert.equal(headerOf(got, 'connection'), 'keep-alive');
    const again = await c.send('GET /b HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    assert.equal(headerOf(again, 'location'), 'https://x:8443/b');
    await c.close();
  });
});

describe('a bodiless response with Transfer-Encoding, to an HTTP/1.0 client', () => {
  // An HTTP/1.0 client knows no transfer codings: a server must not send it Transfer-Encoding
  // (RFC 9112 6.1). A chunked body is sent to it dechunked, without the field; a HEAD answer or a
  // 304 has no body to dechunk, and went out with the member's `transfer-encoding: chunked`.
  it('goes without the field (HEAD, 304), the connection kept as the client asked', async () => {
    // a member answering each request head: 304 for /304, else a chunked 200 (for HEAD: its head only)
    const m = await startTcpServer('m', (socket) => {
      let got = '';
      socket.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        for (let end = got.indexOf('\r\n\r\n'); end !== -1; end = got.indexOf('\r\n\r\n')) {
          const head = got.slice(0, end);
          got = got.slice(end + 4);
          const bodyless = head.startsWith('HEAD ') || head.includes(' /304 ');
          socket.write(`HTTP/1.1 ${head.includes(' /304 ') ? '304 Not Modified' : '200 OK'}\r\ntransfer-encoding: chunked\r\n\r\n${bodyless ? '' : '2\r\nok\r\n0\r\n\r\n'}`);
        }
      });
      socket.on('end', () => socket.end());
    });
    after(() => m.close());
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const c = await connection(app.address('svc').port);
    const head = await c.send('HEAD / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.equal(headerOf(head, 'transfer-encoding'), undefined);
    assert.equal(headerOf(head, 'connection'), 'keep-alive');
    const notModified = await c.send('GET /304 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    assert.match(notModified, /^HTTP\/1\.1 304 /);
    assert.equal(headerOf(notModified, 'transfer-encoding'), undefined);
    await c.close();
    // an HTTP/1.1 client still gets the field as the member sent it
    const head11 = await raw(app.address('svc').port, 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(headerOf(head11.text, 'transfer-encoding'), 'chunked');
    // and a chunked body reaches an HTTP/1.0 client dechunked, without it, closed at its end
    const body = await raw(app.address('svc').port, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.equal(headerOf(body.text, 'transfer-encoding'), undefined);
    assert.match(body.text, /\r\n\r\nok$/);
  });
});

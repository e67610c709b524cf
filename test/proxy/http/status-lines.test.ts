// Status lines without a reason phrase from HTTP/1.1 members: `HTTP/1.1 103` CRLF (no space after
// the code, as nginx and HAProxy take it) and `HTTP/1.1 103 ` CRLF (an empty reason, RFC 9112 4).
// Interim heads (103 Early Hints, 102 Processing) and final ones reach an HTTP/1.1 client with
// the reason furiwake knows for the code, and an HTTP/2 client as :status with the same fields.

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { startTcpServer } from '../../helpers/servers.ts';
import { h2Connect } from './h2-helpers.ts';
import { httpConfig, raw } from './helpers.ts';

/** What the member sends for each path: interim heads and a final one, none with a reason phrase. */
const ANSWERS: Record<string, string> = {
  '/bare': 'HTTP/1.1 103\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok',
  '/empty': 'HTTP/1.1 103 \r\nLink: </b.css>; rel=preload\r\n\r\nHTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok',
  '/processing': 'HTTP/1.1 102\r\n\r\nHTTP/1.1 103\r\nLink: </c.css>\r\n\r\nHTTP/1.1 404\r\nContent-Length: 2\r\n\r\nno',
};

/** A member answering each request (one read) with ANSWERS[path], on a kept connection. */
async function member(): Promise<number> {
  const server = await startTcpServer('raw', (socket) => socket.on('data', (chunk: Buffer) => {
    const path = /^\S+ (\S+)/.exec(chunk.toString('latin1'))?.[1] ?? '/';
    socket.write(ANSWERS[path] ?? 'HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n');
  }));
  return server.port;
}

/** An HTTP/2 client's view: each head (interim ones, then the final one) as `status field=value...`, and the body. */
function h2Heads(session: http2.ClientHttp2Session, path: string): Promise<{ heads: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    const heads: string[] = [];
    const show = (h: http2.IncomingHttpHeaders): string => [h[':status'], ...Object.entries(h).filter(([k]) => k === 'link').map(([k, v]) => `${k}=${String(v)}`)].join(' ');
    let body = '';
    req.on('headers', (h) => heads.push(show(h)));
    req.on('response', (h) => heads.push(show(h)));
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => resolve({ heads, body }));
    req.on('error', reject);
  });
}

describeOnEachEngine('a member whose status lines have no reason phrase', () => {
  it('reaches an HTTP/1.1 client with its interim and final heads, each with the reason of its code', async () => {
    const app = await startApp(httpConfig(pool('round-robin', [{ port: await member(), id: 'm' }])));
    const port = app.address('svc').port;
    const get = (path: string) => raw(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const bare = await get('/bare');
    assert.match(bare.text, /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/a\.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
    const empty = await get('/empty');
    assert.match(empty.text, /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/b\.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
    const processing = await get('/processing');
    assert.match(processing.text, /^HTTP\/1\.1 102 Processing\r\n\r\nHTTP\/1\.1 103 Early Hints\r\nLink: <\/c\.css>\r\n\r\nHTTP\/1\.1 404 Not Found\r\n[^]*\r\n\r\nno$/);
    assert.equal(app.runtime.member('p', 'm')!.failed, 0);
  });

  it('reaches an HTTP/2 client as interim heads with their fields, then the response', async () => {
    const app = await startApp(httpConfig(pool('round-robin', [{ port: await member(), id: 'm' }]), { http2: { h2c: true, maxConcurrentStreams: 100, maxResetsPerSecond: 100 } }));
    const session = h2Connect(app.address('svc').port, false);
    after(() => session.close());
    assert.deepEqual(await h2Heads(session, '/bare'), { heads: ['103 link=</a.css>; rel=preload', '200'], body: 'ok' });
    assert.deepEqual(await h2Heads(session, '/empty'), { heads: ['103 link=</b.css>; rel=preload', '200'], body: 'ok' });
    assert.deepEqual(await h2Heads(session, '/processing'), { heads: ['102', '103 link=</c.css>', '404'], body: 'no' });
    assert.equal(app.runtime.member('p', 'm')!.failed, 0);
  });
});

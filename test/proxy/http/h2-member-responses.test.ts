// An HTTP/2 member's response as the exchange gets it (a message, not HTTP/1.1 text): a body
// without a Content-Length reaches an HTTP/1.1 client chunked on a connection that goes on, an
// HTTP/1.0 client unchunked to the close; a HEAD answer and an empty one keep their
// Content-Length; of a hand-made head, only fields a client may be sent pass.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { pool, service } from '../../helpers/config.ts';
import { startTcpServer } from '../../helpers/servers.ts';
import { data, frame, headers, PREFACE } from '../../attack/h2-raw.ts';
import { h2cService } from './h2-helpers.ts';
import { connection, raw } from './helpers.ts';
import { startH2Member } from './h2-members-helpers.ts';

const h2c = { memberProtocol: 'h2c' as const };

/** Complete once the chunked body's last chunk (and its empty trailer section) came. */
const chunkedDone = (got: string): boolean => got.includes('\r\n\r\n') && got.endsWith('0\r\n\r\n');

/**
 * A member speaking HTTP/2 by hand, so that it can send what node's http2 server refuses to: it
 * answers each request's HEADERS with `fields` and a DATA "ok" that ends the stream.
 */
async function handMadeMember(fields: [string, string][]): Promise<number> {
  const server = await startTcpServer('h2-by-hand', (socket: net.Socket) => {
    let buf = Buffer.alloc(0);
    let preface = false;
    socket.write(frame(0x4, 0, 0)); // our SETTINGS (none)
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (!preface) {
        if (buf.length < PREFACE.length) return;
        buf = buf.subarray(PREFACE.length);
        preface = true;
      }
      while (buf.length >= 9) {
        const length = buf.readUIntBE(0, 3);
        if (buf.length < 9 + length) return;
        const type = buf[3];
        const flags = buf[4];
        const id = buf.readUInt32BE(5) & 0x7fffffff;
        buf = buf.subarray(9 + length);
        if (type === 0x4 && (flags & 0x1) === 0) socket.write(frame(0x4, 0x1, 0)); // SETTINGS ACK
        if (type === 0x1) socket.write(Buffer.concat([headers(id, [[':status', '200'], ...fields], false), data(id, 'ok', true)]));
      }
    });
  });
  return server.port;
}

describe('HTTP/2 member responses, as the exchange gets them', () => {
  it('sends a body without Content-Length to an HTTP/1.1 client chunked, on a connection that carries the next request', async () => {
    const m = await startH2Member('a', (stream) => {
      stream.respond({ ':status': 200, 'x-member': 'a' });
      stream.write('first ');
      setImmediate(() => stream.end('second'));
    });
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port, id: 'a' }], {}, h2c));
    const c = await connection(port);
    for (const path of ['/1', '/2']) {
      const got = await c.send(`GET ${path} HTTP/1.1\r\nHost: a.test\r\n\r\n`, chunkedDone);
      assert.match(got, /^HTTP\/1\.1 200 /);
      assert.match(got, /\r\ntransfer-encoding: chunked\r\n/i);
      assert.doesNotMatch(got, /content-length/i);
      const body = got.slice(got.indexOf('\r\n\r\n') + 4);
      // the payload in chunks of ours, then the last chunk
      assert.equal(body.replace(/(^|\r\n)[0-9a-f]+\r\n/g, '$1').replace(/\r\n/g, ''), 'first second');
      assert.ok(body.endsWith('\r\n0\r\n\r\n'), JSON.stringify(body));
    }
    await c.close();
    assert.equal(app.runtime.pools.get('p')!.members[0].failed, 0);
    // an HTTP/1.0 client reads no chunks: the payload alone, to the close
    const old = await raw(port, 'GET /3 HTTP/1.0\r\nHost: a.test\r\n\r\n');
    assert.match(old.text, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(old.text, /transfer-encoding/i);
    assert.ok(old.text.endsWith('\r\n\r\nfirst second'), JSON.stringify(old.text));
    assert.equal(old.ending, 'end');
  });

  it('answers 504 when a member sends a head with a Content-Length and then no body (the head waits for the body, to go out with it)', async () => {
    const m = await startH2Member('a', (stream) => stream.respond({ ':status': 200, 'content-length': '5' }));
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port, id: 'a' }], {}, h2c), {}, { timeouts: { ...service('http', 'p').timeouts, idle: 200 } });
    const res = await raw(port, 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
    assert.match(res.text, /^HTTP\/1\.1 504 /);
    assert.equal(app.runtime.pools.get('p')!.members[0].failed, 1);
  });

  it("opens the connection's receive window to 100 streams' windows, each stream's staying 65,535 bytes", async () => {
    const m = await startH2Member('a');
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }], {}, h2c));
    assert.match((await raw(port, 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n')).text, /^HTTP\/1\.1 200 /);
    const [session] = m.live;
    // what the member may send on the whole connection, and on a new stream
    assert.ok(session.state.remoteWindowSize! >= 100 * 65_535 - 100, String(session.state.remoteWindowSize));
    assert.equal(session.remoteSettings.initialWindowSize, 65_535);
  });

  it('keeps the Content-Length of a HEAD answer and of an empty answer, with no body', async () => {
    const m = await startH2Member('a', (stream, h) => {
      if (h[':method'] === 'HEAD') {
        stream.respond({ ':status': 200, 'content-length': '1234' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200 }, { endStream: true });
    });
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }], {}, h2c));
    const c = await connection(port);
    const head = await c.send('HEAD / HTTP/1.1\r\nHost: a.test\r\n\r\n', (got) => got.includes('\r\n\r\n'));
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, /\r\ncontent-length: 1234\r\n/i);
    assert.ok(head.endsWith('\r\n\r\n'));
    const empty = await c.send('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n');
    assert.match(empty, /^HTTP\/1\.1 200 /);
    assert.match(empty, /\r\ncontent-length: 0\r\n/i);
    assert.ok(empty.endsWith('\r\n\r\n'));
    await c.close();
  });

  it('passes HTAB and obs-text in a member head, and never a field with a control character, TE or Trailer; the member is not failed', async () => {
    const member = await handMadeMember([
      ['x-tab', 'a\tb'], ['x-obs', 'a\u00e9b'], ['x-ctl', 'a\u0001b'], ['x-esc', 'a\u001bb'], ['x-del', 'a\u007fb'], ['x-sp', ' a'],
      ['te', 'trailers'], ['trailer', 'x-a'], ['x-last', 'yes'],
    ]);
    const { app, port } = await h2cService(pool('round-robin', [{ port: member, id: 'm' }], {}, h2c));
    const res = await raw(port, 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
    assert.match(res.text, /^HTTP\/1\.1 200 /);
    const head = res.text.slice(0, res.text.indexOf('\r\n\r\n') + 2);
    assert.match(head, /\r\nx-tab: a\tb\r\n/);
    assert.match(head, /\r\nx-obs: a\u00e9b\r\n/);
    assert.match(head, /\r\nx-last: yes\r\n/);
    for (const name of ['x-ctl', 'x-esc', 'x-del', 'x-sp', 'te', 'trailer']) assert.doesNotMatch(head, new RegExp(`\r\n${name}:`, 'i'), name);
    assert.ok(!/[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]/.test(head));
    assert.equal(app.runtime.pools.get('p')!.members[0].failed, 0);
  });
});

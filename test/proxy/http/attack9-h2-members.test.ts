// Attacks on HTTP/2 members as messages (h2-member-stream.ts, h2-member-heads.ts, exchange.ts
// upstreamHead): what a hostile h2c member can make furiwake send its HTTP/1.1 clients.

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { data, frame, headers, PREFACE } from '../../attack/h2-raw.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { startH2Member, type H2Handler } from './h2-members-helpers.ts';
import { h2Connect, h2cService, h2Request } from './h2-helpers.ts';
import { httpConfig, raw, startMember } from './helpers.ts';

describe('an HTTP/2 member flooding interim heads without fields', () => {
  it('gets a 502 once its 1xx heads pass 64 KiB together, as an HTTP/1.1 member does; a few are passed on', async () => {
    const m = await startH2Member('m', (stream, headers) => {
      const n = headers[':path'] === '/flood' ? 5_000 : 2;
      for (let i = 0; i < n; i++) stream.additionalHeaders({ ':status': 103 });
      stream.respond({ ':status': 200, 'content-length': '2' });
      stream.end('ok');
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }), {}, { retries: 0 }));
    const port = app.address('svc').port;
    const flood = await raw(port, 'GET /flood HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const finals = [...flood.text.matchAll(/HTTP\/1\.1 ([2-5]\d\d) /g)].map((x) => Number(x[1]));
    // (before: every one of the 5,000 went to the client, whatever their number: each counted 0 bytes)
    assert.deepEqual(finals, [502]);
    assert.match(flood.text, /interim \(1xx\) responses from the member larger than 65536 bytes/);
    assert.ok(flood.text.split(' 103 ').length - 1 < 64 * 1024 / 17);
    const few = await raw(port, 'GET /few HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(few.text, /^HTTP\/1\.1 103 [^\r]*\r\n\r\nHTTP\/1\.1 103 [^\r]*\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  });
});

describe('an HTTP/2 member resetting its stream at every point of a response', () => {
  const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;
  /** What the member does for each path: where it resets. */
  const handler: H2Handler = (stream, headers) => {
    const path = headers[':path'];
    stream.on('error', () => {});
    // (close(code) would send END_STREAM before its RST_STREAM: a whole response; destroy() resets alone)
    const reset = (code = NGHTTP2_INTERNAL_ERROR): void => {
      if (code === NGHTTP2_INTERNAL_ERROR) stream.destroy(new Error('reset'));
      else stream.close(code);
    };
    // (the request's end is awaited: a reset before it is a reset of the request too)
    stream.resume();
    stream.on('end', () => {
      switch (path) {
        case '/before-head': return reset();
        case '/refused': return reset(NGHTTP2_REFUSED_STREAM);
        case '/after-length-head':
          stream.respond({ ':status': 200, 'content-length': '10' });
          return setImmediate(reset);
        case '/mid-length-body':
          stream.respond({ ':status': 200, 'content-length': '10' });
          stream.write('12345', () => setImmediate(reset));
          return;
        case '/after-unknown-head':
          stream.respond({ ':status': 200 });
          return setImmediate(reset);
        case '/before-trailers':
          stream.respond({ ':status': 200 }, { waitForTrailers: true });
          stream.write('12345', () => setImmediate(reset));
          return;
        case '/trailers':
        case '/bad-trailers':
          // (a Content-Length among trailers: nghttp2 resets the stream as malformed)
          stream.respond({ ':status': 200 }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers(path === '/trailers' ? { 'x-t': 'done' } : { 'x-t': 'done', 'content-length': '99' }));
          stream.end('12345');
          return;
        default:
          stream.respond({ ':status': 200, 'content-length': '2' });
          stream.end('ok');
      }
    });
  };

  it('a client never gets what looks like a whole response; the member session serves the next request', async () => {
    const m = await startH2Member('m', handler);
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }), {}, { retries: 0 }));
    const port = app.address('svc').port;
    const get = (path: string, version = '1.1') => raw(port, `GET ${path} HTTP/${version}\r\nHost: x\r\nConnection: close\r\n\r\n`);
    // nothing of the response came: our 502
    for (const path of ['/before-head', '/refused', '/after-length-head']) {
      const got = await get(path);
      assert.equal(got.status, 502, `${path}: ${got.text}`);
      assert.equal((await get('/ok')).status, 200, `after ${path}`);
    }
    // part of it came: the client is cut off (a reset), never handed an end
    for (const path of ['/mid-length-body', '/after-unknown-head', '/before-trailers', '/bad-trailers']) {
      for (const version of ['1.1', '1.0']) {
        const got = await get(path, version);
        if (got.status === 502) continue; // (the reset came before the head could go out)
        assert.equal(got.status, 200, `${path} ${version}: ${got.text}`);
        assert.equal(got.ending, 'reset', `${path} ${version}: ${JSON.stringify(got.text)}`);
        assert.ok(!got.text.endsWith('0\r\n\r\n'), `${path} ${version}: ${JSON.stringify(got.text)}`);
      }
      assert.equal((await get('/ok')).status, 200, `after ${path}`);
    }
    // trailers go on to an HTTP/1.1 client after the last chunk
    const trailers = await get('/trailers');
    assert.match(trailers.text, /\r\n\r\n5\r\n12345\r\n0\r\nx-t: done\r\n\r\n$/);
    assert.equal(m.sessions, 1, 'one session to the member throughout');
  });
});

describe('a chunked request with trailers named as what every object has, to an HTTP/2 member', () => {
  it('passes them as they came: constructor, __proto__', async () => {
    const seen: Record<string, unknown>[] = [];
    const m = await startH2Member('m', (stream) => {
      stream.resume();
      stream.on('trailers', (t: Record<string, unknown>) => seen.push(Object.fromEntries(Object.entries(t))));
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-length': '2' });
        stream.end('ok');
      });
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }), {}, { retries: 0 }));
    const port = app.address('svc').port;
    const post = (trailers: string) => raw(port, `POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n${trailers}\r\n`);
    // (before: the member got `constructor: function Object() { [native code] }, x`, and no __proto__)
    assert.equal((await post('Constructor: x\r\n__proto__: y\r\nX-T: 1\r\n')).status, 200);
    assert.deepEqual(seen, [Object.fromEntries([['constructor', 'x'], ['__proto__', 'y'], ['x-t', '1']])]);
  });
});

describe('a member\'s trailers named as what every object has, to an HTTP/2 client', () => {
  it('reach it as they came: constructor, __proto__', async () => {
    const m = await startMember('m', (_req, res) => {
      res.addTrailers([['Constructor', 'x'], ['__proto__', 'y'], ['X-T', '1']]);
      res.setHeader('trailer', 'constructor, __proto__, x-t');
      res.end('ok');
    });
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }]));
    const session = h2Connect(port, false);
    const got = await h2Request(session, {});
    session.close();
    assert.equal(got.body.toString(), 'ok');
    // (before: constructor came as `function Object() { [native code] }, x`, and __proto__ not at all)
    assert.deepEqual(Object.fromEntries(Object.entries(got.trailers ?? {})), Object.fromEntries([['constructor', 'x'], ['__proto__', 'y'], ['x-t', '1']]));
  });
});

describe('a chunked request to an HTTP/2 member, split at every byte', () => {
  it('reaches the member as its payload and trailers, whatever the reads', async () => {
    const seen: string[] = [];
    const m = await startH2Member('m', (stream) => {
      const chunks: Buffer[] = [];
      let trailers = '';
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('trailers', (t: Record<string, unknown>) => (trailers = String(t['x-t'])));
      stream.on('end', () => {
        seen.push(`${Buffer.concat(chunks).toString('latin1')}|${trailers}`);
        stream.respond({ ':status': 200, 'content-length': '2' });
        stream.end('ok');
      });
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' })));
    const port = app.address('svc').port;
    const body = '3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: last\r\n\r\n';
    const all = Buffer.from(`POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`, 'latin1');
    const start = all.length - body.length;
    for (let at = start; at < all.length; at++) {
      const got = await raw(port, [all.subarray(0, at), all.subarray(at)]);
      assert.equal(got.status, 200, `split at ${at}: ${got.text}`);
      assert.equal(seen.at(-1), 'abc0123456789abcdef|last', `split at ${at}`);
    }
  });
});

describe('an HTTP/2 member that resets its stream with NO_ERROR before the end of a body of unknown length', () => {
  /**
   * An h2c member by hand: each request is answered with a head without a Content-Length and
   * `abc`, then RST_STREAM(NO_ERROR): before END_STREAM (`whole` false: the response is cut
   * short, RFC 9113 8.1), or after it (true: the response is whole, the reset only says the
   * member wants no more of the request).
   */
  async function resettingMember(whole: boolean): Promise<number> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.write(frame(0x4, 0, 0));
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.subarray(0, 24).equals(PREFACE)) buffered = buffered.subarray(24);
        while (buffered.length >= 9 && buffered.length >= 9 + buffered.readUIntBE(0, 3)) {
          const [type, flags, stream] = [buffered[3], buffered[4], buffered.readUInt32BE(5) & 0x7fffffff];
          buffered = buffered.subarray(9 + buffered.readUIntBE(0, 3));
          if (type === 0x4 && (flags & 1) === 0) socket.write(frame(0x4, 1, 0));
          else if (type === 0x1) socket.write(Buffer.concat([headers(stream, [[':status', '200']], false), data(stream, 'abc', whole), frame(0x3, 0, stream, Buffer.alloc(4))]));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    after(() => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }));
    return (server.address() as net.AddressInfo).port;
  }

  // (before: node's http2 ends the readable side on RST_STREAM(NO_ERROR) as on END_STREAM, with
  // the same rstCode, and the client got the last chunk: a whole response of 3 bytes)
  it('cuts the HTTP/1.1 client off instead of ending its chunked body, and resets an HTTP/2 client\'s stream', async () => {
    const app = await startApp(httpConfig(pool('round-robin', [{ port: await resettingMember(false), id: 'm' }], {}, { memberProtocol: 'h2c' }), { http2: { h2c: true, maxConcurrentStreams: 100, maxResetsPerSecond: 100 } }, { retries: 0 }));
    const port = app.address('svc').port;
    for (let i = 0; i < 3; i++) {
      const got = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(got.status, 200, got.text);
      assert.ok(!got.text.endsWith('0\r\n\r\n'), JSON.stringify(got.text));
      assert.equal(got.ending, 'reset', JSON.stringify(got.text));
    }
    const session = h2Connect(port, false);
    after(() => session.close());
    await assert.rejects(h2Request(session, { ':path': '/' }), /ERR_HTTP2_STREAM_ERROR/);
    assert.equal(app.runtime.member('p', 'm')!.failed, 4);
  });

  it('passes a response whole when the reset comes after its END_STREAM', async () => {
    const app = await startApp(httpConfig(pool('round-robin', [{ port: await resettingMember(true) }], {}, { memberProtocol: 'h2c' }), { http2: { h2c: true, maxConcurrentStreams: 100, maxResetsPerSecond: 100 } }, { retries: 0 }));
    const port = app.address('svc').port;
    for (let i = 0; i < 3; i++) {
      const got = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(got.status, 200, got.text);
      assert.ok(got.text.endsWith('\r\n\r\n3\r\nabc\r\n0\r\n\r\n'), JSON.stringify(got.text));
      assert.equal(got.ending, 'end');
    }
    const session = h2Connect(port, false);
    after(() => session.close());
    const got = await h2Request(session, { ':path': '/' });
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'abc');
  });
});

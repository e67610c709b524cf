// HTTP/2 from clients to HTTP/1.1 members: https services offer h2 in ALPN, h2c services take
// the HTTP/2 preface; each stream is a request through the same dispatch as HTTP/1.1 (round-robin
// over the members, forwarded fields), translated to HTTP/1.1 with the connection-specific
// fields gone both ways, bodies and trailers passed in both directions.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { connectionView } from '../../../src/admin/views.ts';
import { Furiwake } from '../../../src/app.ts';
import { createLogger } from '../../../src/log.ts';
import { logSink } from '../../helpers/app.ts';
import { tempDir } from '../../helpers/files.ts';
import { startNginx } from '../../helpers/nginx.ts';
import { promisify } from 'node:util';
import { pool, service } from '../../helpers/config.ts';
import { until } from '../../helpers/wait.ts';
import { h2Connect, h2Request, h2cService, httpsService } from './h2-helpers.ts';
import { httpConfig, startMember } from './helpers.ts';

const run = promisify(execFile);
const CONNECTION_FIELDS = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings'];

describe('HTTP/2 from clients', () => {
  it('serves curl --http2 over TLS: the member gets an HTTP/1.1 request with the Host and no connection fields', async () => {
    const m = await startMember('a', (req, res) => {
      // connection fields from an HTTP/1.1 member never reach an HTTP/2 client
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('x-member', 'a');
      res.end(`a ${req.method} ${req.url} ${req.httpVersion}`);
    });
    const { port } = await httpsService(pool('round-robin', [{ port: m.port }]));
    const { stdout, stderr } = await run('curl', ['-sv', '--http2', '-k', '--resolve', `www.h2.test:${port}:127.0.0.1`,
      '-H', 'cookie: a=1', `https://www.h2.test:${port}/path?q=1`]);
    assert.match(stderr, /using HTTP\/2|HTTP\/2 200/);
    assert.match(stderr, /< x-member: a/);
    assert.doesNotMatch(stderr, /< keep-alive/i);
    assert.equal(stdout, 'a GET /path?q=1 1.1');
    const seen = m.requests[0];
    assert.equal(seen.headers.host, `www.h2.test:${port}`);
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers.cookie, 'a=1');
    for (const name of CONNECTION_FIELDS) assert.equal(seen.headers[name], undefined, name);
  });

  it('serves curl --http2 from an nginx member: what nginx saw, a 1 MiB file and a gzip body nginx sent chunked', async () => {
    const dir = await tempDir('nginx-h2');
    await mkdir(join(dir, 'www'));
    const file = Buffer.alloc(1024 * 1024 + 17, 'furiwake');
    await writeFile(join(dir, 'www', 'file.bin'), file);
    await writeFile(join(dir, 'www', 'text.txt'), 'furiwake over HTTP/2\n'.repeat(5000));
    const nginx = await startNginx(dir, `
      root ${dir}/www;
      location = /seen { default_type text/plain; return 200 "$server_protocol host=$http_host connection=$http_connection te=$http_te upgrade=$http_upgrade"; }`, `
  gzip on;
  gzip_types text/plain;
  gzip_min_length 0;
  types { text/plain txt; application/octet-stream bin; }`);
    const { port } = await httpsService(pool('round-robin', [{ port: nginx.port }]));
    const curl = (path: string, ...args: string[]) => run('curl', ['-sSv', '--http2', '-k', '--resolve', `www.h2.test:${port}:127.0.0.1`, ...args, `https://www.h2.test:${port}${path}`],
      { encoding: 'buffer', maxBuffer: 4 * 1024 * 1024 });
    const seen = await curl('/seen', '-H', 'te: trailers');
    assert.match(seen.stderr.toString(), /using HTTP\/2/);
    // connection: keep-alive is furiwake's own towards the member, never the client's
    assert.equal(seen.stdout.toString(), `HTTP/1.1 host=www.h2.test:${port} connection= te= upgrade=`);
    const big = await curl('/file.bin');
    assert.ok(big.stdout.equals(file), `the file came whole (${big.stdout.length} bytes)`);
    const text = await curl('/text.txt', '--compressed');
    assert.match(text.stderr.toString(), /< content-encoding: gzip/);
    assert.equal(text.stdout.toString(), 'furiwake over HTTP/2\n'.repeat(5000));
  });

  it('still speaks HTTP/1.1 to a client that asks for it, and offers only http/1.1 when tls.alpn says so', async () => {
    const m = await startMember('a');
    const both = await httpsService(pool('round-robin', [{ port: m.port }]));
    const h1 = await run('curl', ['-sv', '--http1.1', '-k', `https://127.0.0.1:${both.port}/x`]);
    assert.equal(h1.stdout, 'a GET /x');
    assert.match(h1.stderr, /HTTP\/1\.1 200/);
    const only = await httpsService(pool('round-robin', [{ port: m.port }]), {}, ['http/1.1']);
    const asked = await run('curl', ['-sv', '--http2', '-k', `https://127.0.0.1:${only.port}/y`]);
    assert.equal(asked.stdout, 'a GET /y');
    assert.match(asked.stderr, /HTTP\/1\.1 200/);
  });

  it('serves curl --http2-prior-knowledge on an h2c service, and HTTP/1.1 on the same port', async () => {
    const m = await startMember('a');
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }]));
    const h2 = await run('curl', ['-sv', '--http2-prior-knowledge', `http://127.0.0.1:${port}/h2c`]);
    assert.match(h2.stderr, /HTTP\/2 200/);
    assert.equal(h2.stdout, 'a GET /h2c');
    assert.equal(m.requests[0].headers['x-forwarded-proto'], 'http');
    const h1 = await run('curl', ['-sv', `http://127.0.0.1:${port}/h1`]);
    assert.match(h1.stderr, /HTTP\/1\.1 200/);
    assert.equal(h1.stdout, 'a GET /h1');
  });

  it('spreads 100 concurrent streams of one connection over 3 members by round-robin', async () => {
    const members = await Promise.all(['a', 'b', 'c'].map((n) => startMember(n)));
    const { port } = await httpsService(pool('round-robin', members.map((m) => ({ port: m.port }))));
    const session = h2Connect(port, true);
    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => h2Request(session, { ':path': `/r${i}` })));
    session.close();
    for (const [i, r] of responses.entries()) {
      assert.equal(r.status, 200);
      assert.match(r.body.toString(), new RegExp(` GET /r${i}$`));
    }
    const counts = members.map((m) => m.requests.length).sort((x, y) => x - y);
    assert.deepEqual(counts, [33, 33, 34]);
  });

  it('passes request bodies with and without a length, and trailers both ways', async () => {
    const m = await startMember('a', (req, res, body) => {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write(`${req.headers['content-length'] ?? '-'} ${req.headers['transfer-encoding'] ?? '-'} ${JSON.stringify(req.trailers)} `);
      res.addTrailers({ 'x-checksum': String(body.length) });
      res.end(body);
    });
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }]));
    const session = h2Connect(port, false);
    const sized = await h2Request(session, { ':method': 'POST', 'content-length': '5' }, 'hello');
    assert.equal(sized.body.toString(), '5 - {} hello');
    assert.deepEqual(sized.trailers?.['x-checksum'], '5');
    const streamed = await h2Request(session, { ':method': 'POST' }, 'hello world', { 'x-sum': '11' });
    assert.equal(streamed.body.toString(), '- chunked {"x-sum":"11"} hello world');
    assert.equal(streamed.trailers?.['x-checksum'], '11');
    session.close();
  });

  it('sends a whole response to a client still sending its body, then stops the body (RST_STREAM NO_ERROR)', async () => {
    // the member answers at once with 256 KiB, never reading the body (opts.stream: the handler gets the request before its body)
    const big = Buffer.alloc(256 * 1024, 'x');
    const m = await startMember('a', (_req, res) => {
      res.writeHead(200, { 'content-length': String(big.length) });
      res.end(big);
    }, { stream: true });
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }]));
    const session = h2Connect(port, false);
    after(() => session.close());
    const req = session.request({ ':method': 'POST', ':path': '/upload' });
    req.write('the start of a body that never ends');
    let got = 0;
    req.on('data', (c: Buffer) => (got += c.length));
    req.on('error', () => {});
    await once(req, 'end');
    assert.equal(got, big.length);
    await once(req, 'close');
    assert.equal(req.rstCode, 0);
  });

  it('writes the protocol of each request in the access log: HTTP/2 and HTTP/1.1 on one h2c service', async () => {
    const m = await startMember('a');
    const { sink, lines } = logSink();
    const config = httpConfig(pool('round-robin', [{ port: m.port, id: 'm1' }]), { http2: { h2c: true, maxConcurrentStreams: 100, maxResetsPerSecond: 100 } });
    const app = await Furiwake.start(config, createLogger('info', sink));
    after(() => app.stop(0));
    const port = app.address('svc').port;
    const session = h2Connect(port, false);
    assert.equal((await h2Request(session, { ':path': '/two' })).status, 200);
    session.close();
    await run('curl', ['-s', `http://127.0.0.1:${port}/one`]);
    await until(() => lines.filter((l) => l.msg === 'request').length === 2, sink, 'line');
    const logged = lines.filter((l) => l.msg === 'request').map((l) => [l.path, l.protocol, l.member, l.status]);
    assert.deepEqual(logged, [['/two', 'HTTP/2', 'm1', 200], ['/one', 'HTTP/1.1', 'm1', 200]]);
  });

  it('shows an HTTP/2 connection in the connection table with its version and a request in progress', async () => {
    let answer: (() => void) | null = null;
    const m = await startMember('a', (_req, res) => (answer = () => res.end('late')));
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port }]));
    const session = h2Connect(port, false);
    const pending = h2Request(session, { ':path': '/slow' });
    await until(() => answer !== null);
    const [view] = [...app.runtime.connections.list({ service: 'svc' })].map((e) => connectionView(e, true));
    assert.equal(view.http, '2');
    assert.deepEqual(view.request, { method: 'GET', path: '/slow' });
    assert.equal(view.member?.port, m.port);
    answer!();
    assert.equal((await pending).body.toString(), 'late');
    session.close();
  });

  it('leaves nothing behind when a client goes away with streams in flight', async () => {
    let waiting = 0;
    const m = await startMember('a', () => waiting++);
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port }]));
    const session = h2Connect(port, false);
    for (let i = 0; i < 50; i++) session.request({ ':path': `/never${i}` }).on('error', () => {});
    await until(() => waiting === 50);
    session.destroy();
    // the connection is gone from the table, and its 50 exchanges gave their member back
    await until(() => app.runtime.connections.size === 0 && app.runtime.pools.get('p')!.members[0].active === 0);
  });

  it('closes a connection left without a stream for timeouts.keep-alive, with GOAWAY', async () => {
    const m = await startMember('a');
    const timeouts = { ...service('http', 'p').http!.timeouts, keepAlive: 200 };
    const { app, port } = await h2cService(pool('round-robin', [{ port: m.port }]), { timeouts });
    const session = h2Connect(port, false);
    const goaway = once(session, 'goaway');
    assert.equal((await h2Request(session, { ':path': '/' })).status, 200);
    assert.equal((await goaway)[0], 0);
    await once(session, 'close');
    await until(() => app.runtime.connections.size === 0);
  });

  it('resets a stream whose client stops reading its response for timeouts.idle', async () => {
    const m = await startMember('a', (_req, res) => res.end(Buffer.alloc(200 * 1024, 0x61)));
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }]), {}, { timeouts: { connect: 2_000, idle: 300 } });
    const session = h2Connect(port, false);
    const req = session.request({ ':path': '/' });
    const closed = new Promise((resolve) => req.on('error', () => {}).once('close', resolve));
    req.pause();
    await once(req, 'response');
    // what the client's window does not let out waits, for timeouts.idle at most
    await closed;
    assert.equal(req.rstCode, 2); // INTERNAL_ERROR: the response was cut off
    session.close();
  });

  it('answers our own errors and an invalid request on the stream, and the connection goes on', async () => {
    const { port } = await h2cService(pool('round-robin', [{ port: 1, backup: false }]));
    const session = h2Connect(port, false);
    const noMember = await h2Request(session, { ':path': '/' });
    assert.equal(noMember.status, 502);
    assert.match(noMember.body.toString(), /^502 Bad Gateway: /);
    // nghttp2 refuses what HTTP/2 forbids (a space in the authority) with a stream error ...
    await assert.rejects(h2Request(session, { ':path': '/', ':authority': 'a b' }), { code: 'ERR_HTTP2_STREAM_ERROR' });
    // ... and the HTTP/1.1 parser what it would refuse from an HTTP/1.1 client
    const badHost = await h2Request(session, { ':path': '/', ':authority': 'a:b:c' });
    assert.equal(badHost.status, 400);
    assert.match(badHost.body.toString(), /invalid Host/);
    const again = await h2Request(session, { ':path': '/' });
    assert.equal(again.status, 502);
    session.close();
  });
});

describe('HTTP/2 flow control', () => {
  it('pauses the member while a client does not read: a large download stays within a bounded buffer', async (t) => {
    const TOTAL = 64 * 1024 * 1024;
    const piece = Buffer.alloc(256 * 1024, 0x61);
    let written = 0;
    let blocked = false;
    let drains = 0;
    let done = false;
    const m = await startMember('big', (_req, res) => {
      res.writeHead(200, { 'content-length': TOTAL });
      const more = (): void => {
        drains++;
        blocked = false;
        while (written < TOTAL) {
          written += piece.length;
          if (!res.write(piece)) {
            blocked = true;
            res.once('drain', more);
            return;
          }
        }
        done = true;
        res.end();
      };
      more();
    });
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }]));
    const session = h2Connect(port, false);
    const req = session.request({ ':path': '/big' });
    let read = 0;
    req.pause();
    await once(req, 'response');
    // the member is held up once the windows and the buffers between it and the client are full:
    // it stays blocked, with no drain, for a hundred turns of the event loop (furiwake's too)
    let quiet = 0;
    let last = drains;
    await until(() => {
      if (blocked && drains === last) quiet++;
      else quiet = 0;
      last = drains;
      return done || quiet >= 100;
    });
    const ahead = written - read;
    t.diagnostic(`at rest, the member had written ${written} bytes of ${TOTAL}; the client had read ${read}`);
    // (what is in flight sits in the kernel's socket buffers, some MB on loopback, and furiwake's
    // stream buffer: never the whole response)
    assert.ok(!done && ahead < 16 * 1024 * 1024, `the member wrote ${written} bytes while the client read ${read}`);
    req.on('data', (c: Buffer) => (read += c.length));
    req.resume();
    await once(req, 'end');
    assert.equal(read, TOTAL);
    session.close();
  });
});

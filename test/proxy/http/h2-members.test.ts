// HTTP/2 to members (pool member-protocol h2c and h2): requests from HTTP/1.1 and HTTP/2 clients
// go as streams on a few shared sessions per member, balanced per request, with the
// connection-specific fields dropped, Host as :authority, forwarded fields, bodies and trailers
// both ways.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { atEnd } from '../../helpers/cleanup.ts';
import { after, describe, it } from 'node:test';
import { Furiwake } from '../../../src/app.ts';
import { createLogger } from '../../../src/log.ts';
import { logSink } from '../../helpers/app.ts';
import { until } from '../../helpers/wait.ts';
import { promisify } from 'node:util';
import { pool, service } from '../../helpers/config.ts';
import { h2Connect, h2Request, h2cService, httpsService } from './h2-helpers.ts';
import { httpConfig } from './helpers.ts';
import { echo, startH2Member, type H2Handler } from './h2-members-helpers.ts';

const run = promisify(execFile);

function get(port: number, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP/2 to members', () => {
  it('sends an HTTP/1.1 request to an h2c member as a stream', async () => {
    const m = await startH2Member('a');
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }));
    const res = await get(port, '/x?y=1', { 'x-hello': 'there', connection: 'keep-alive, x-hop', 'x-hop': '1' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'a GET /x?y=1 ');
    assert.equal(res.headers['x-member'], 'a');
    const seen = m.requests[0];
    assert.equal(seen[':authority'], `127.0.0.1:${port}`);
    assert.equal(seen[':scheme'], 'http');
    assert.equal(seen['x-hello'], 'there');
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-hop'], undefined);
    assert.equal(seen.connection, undefined);
  });

  it('sends an HTTP/2 client stream to an h2c member', async () => {
    const m = await startH2Member('a');
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }));
    const session = h2Connect(port, false);
    const res = await h2Request(session, { ':method': 'POST', ':path': '/p' }, 'body!');
    session.close();
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'a POST /p body!');
    // a gRPC call keeps its "te: trailers" (some gRPC servers refuse a call without it); others have none
    const s2 = h2Connect(port, false);
    await h2Request(s2, { ':method': 'POST', ':path': '/g', 'content-type': 'application/grpc', te: 'trailers' }, 'x');
    s2.close();
    assert.equal(m.requests[0].te, undefined);
    assert.equal(m.requests[1].te, 'trailers');
  });
});

describe('HTTP/2 members: curl, many streams, flow control, trailers', () => {
  it('serves curl --http2-prior-knowledge (h2c VIP) from an h2c member and curl --http2 (https VIP) from an h2 member', async () => {
    const plain = await startH2Member('c');
    const { port } = await h2cService(pool('round-robin', [{ port: plain.port }], {}, { memberProtocol: 'h2c' }));
    const a = await run('curl', ['-sv', '--http2-prior-knowledge', `http://127.0.0.1:${port}/prior?k=1`]);
    assert.match(a.stderr, /HTTP\/2 200/);
    assert.equal(a.stdout, 'c GET /prior?k=1 ');
    const secure = await startH2Member('t', echo, { tls: true });
    const tls = await httpsService(pool('round-robin', [{ port: secure.port }], {}, { memberProtocol: 'h2' }), { memberTls: { verify: false, sni: 'www.h2.test', caFile: null, ca: null } });
    const b = await run('curl', ['-sv', '--http2', '-k', '--resolve', `www.h2.test:${tls.port}:127.0.0.1`, '-d', 'posted', `https://www.h2.test:${tls.port}/tls`]);
    assert.match(b.stderr, /HTTP\/2 200/);
    assert.equal(b.stdout, 't POST /tls posted');
    assert.equal(secure.requests[0][':scheme'], 'https');
    assert.equal(secure.requests[0]['x-forwarded-proto'], 'https');
    assert.equal(secure.requests[0][':authority'], `www.h2.test:${tls.port}`);
  });

  it('spreads 100 concurrent streams of one client connection over 3 h2c members, one session each', async () => {
    let waiting: (() => void)[] = [];
    const held: H2Handler = (stream, headers, member) => {
      // every request is held until all 100 are in: they are truly concurrent
      waiting.push(() => echo(stream, headers, member));
      if (waiting.length === 100) for (const go of waiting.splice(0)) go();
    };
    const members = await Promise.all(['a', 'b', 'c'].map((n) => startH2Member(n, held)));
    const { app, port } = await h2cService(pool('round-robin', members.map((m) => ({ port: m.port, id: m.name })), {}, { memberProtocol: 'h2c' }));
    const session = h2Connect(port, false);
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => h2Request(session, { ':path': `/n${i}` })));
    session.close();
    const by: Record<string, number> = {};
    for (const r of answers) {
      assert.equal(r.status, 200);
      const who = String(r.headers['x-member']);
      by[who] = (by[who] ?? 0) + 1;
    }
    assert.deepEqual(Object.values(by).sort(), [33, 33, 34]);
    for (const m of members) assert.equal(m.sessions, 1, `${m.name} got one session`);
    waiting = [];
    void app;
  });

  it("respects the member's max concurrent streams: a second session, then requests wait for a slot", async () => {
    let now = 0;
    let most = 0;
    const counting: H2Handler = (stream, headers, member) => {
      most = Math.max(most, ++now);
      stream.on('close', () => now--);
      setImmediate(() => echo(stream, headers, member));
    };
    const m = await startH2Member('a', counting, { settings: { maxConcurrentStreams: 5 } });
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c', http2: { maxConnectionsPerMember: 2, pingInterval: 30_000, pingTimeout: 10_000 } }));
    const session = h2Connect(port, false);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => h2Request(session, { ':path': `/n${i}` })));
    session.close();
    assert.ok(answers.every((r) => r.status === 200));
    assert.equal(m.sessions, 2);
    assert.ok(most <= 10, `at most 2 x 5 streams at once (${most})`);
  });

  it('passes request and response trailers both ways, from HTTP/2 and HTTP/1.1 clients', async () => {
    const m = await startH2Member('a', (stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('trailers', (t) => (stream as unknown as { got: unknown }).got = t);
      stream.on('end', () => {
        const got = (stream as unknown as { got?: Record<string, string> }).got;
        stream.respond({ ':status': 200 }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-sum': String(Buffer.concat(chunks).length), 'x-echo': got?.['x-client'] ?? 'none' }));
        stream.end('body');
      });
    });
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }));
    const session = h2Connect(port, false);
    const res = await h2Request(session, { ':method': 'POST', ':path': '/t' }, 'twelve bytes', { 'x-client': 'yes' });
    session.close();
    assert.equal(res.body.toString(), 'body');
    assert.equal(res.trailers?.['x-sum'], '12');
    assert.equal(res.trailers?.['x-echo'], 'yes');
    // HTTP/1.1 client: chunked with a trailer in, the member's trailers in the last chunk out
    const h1 = await new Promise<{ trailers: NodeJS.Dict<string>; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/t1', agent: false, headers: { te: 'trailers', trailer: 'x-client' } }, (r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => resolve({ trailers: r.trailers, body }));
      });
      req.on('error', reject);
      req.write('abc');
      req.addTrailers({ 'x-client': 'h1' });
      req.end();
    });
    assert.equal(h1.body, 'body');
    assert.equal(h1.trailers['x-sum'], '3');
    assert.equal(h1.trailers['x-echo'], 'h1');
  });

  it('holds a bounded amount of a 64 MiB download from an h2 member for a client that stops reading', async () => {
    const TOTAL = 64 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    let blocked = false;
    const blockedEvents = new EventEmitter();
    const big = await startH2Member('big', (stream) => {
      stream.respond({ ':status': 200, 'content-length': String(TOTAL) });
      const more = (): void => {
        while (written < TOTAL) {
          written += piece.length;
          if (!stream.write(piece)) {
            blocked = true;
            blockedEvents.emit('blocked');
            stream.once('drain', () => {
              blocked = false;
              more();
            });
            return;
          }
        }
        stream.end();
      };
      more();
    }, { tls: true });
    const { port } = await httpsService(pool('round-robin', [{ port: big.port }], {}, { memberProtocol: 'h2' }), { memberTls: { verify: false, sni: null, caFile: null, ca: null } });
    const session = h2Connect(port, true);
    const req = session.request({ ':path': '/big' });
    let read = 0;
    let most = 0;
    let pauses = 0;
    const done = new Promise<void>((resolve, reject) => {
      req.on('end', resolve);
      req.on('error', reject);
    });
    req.on('data', (c: Buffer) => {
      read += c.length;
      // every 8 MiB the client stops reading until the member is held up (and stays so for 200 turns)
      if (read >= (pauses + 1) * 8 * 1024 * 1024 && pauses < 4) {
        pauses++;
        req.pause();
        void (async () => {
          // (a balancer that buffered everything would let the member run on: stop looking past 16 MiB)
          for (let quiet = 0; quiet < 200 && written - read < 16 * 1024 * 1024; ) {
            await new Promise((r) => setImmediate(r));
            quiet = blocked ? quiet + 1 : 0;
          }
          most = Math.max(most, written - read);
          req.resume();
        })();
      }
    });
    await done;
    session.close();
    assert.equal(read, TOTAL);
    assert.equal(pauses, 4);
    assert.ok(most < 8 * 1024 * 1024, `held between member and client: ${most} bytes`);
    void blockedEvents;
  });
});

describe('HTTP/2 members: the access log', () => {
  it('says which protocol the member was spoken to in (memberProtocol), beside the client\'s', async () => {
    const m = await startH2Member('a');
    const { sink, lines } = logSink();
    const config = httpConfig(pool('round-robin', [{ port: m.port, id: 'm1' }], {}, { memberProtocol: 'h2c' }), { http2: { h2c: true, maxConcurrentStreams: 100, maxResetsPerSecond: 100 } });
    const app = await Furiwake.start(config, createLogger('info', sink));
    after(() => app.stop(0));
    const port = app.address('svc').port;
    await get(port, '/one');
    await until(() => lines.some((l) => l.msg === 'request'), sink, 'line');
    const line = lines.find((l) => l.msg === 'request')!;
    assert.deepEqual([line.protocol, line.memberProtocol, line.member, line.status], ['HTTP/1.1', 'h2c', 'm1', 200]);
  });
});

describe('HTTP/2 members: a member that stops serving', () => {
  it('moves a waiting GET to another member (reselect), cancels its stream, and closes the member\'s connection', async () => {
    let rst = -1;
    let cancelled: () => void = () => {};
    const gone = new Promise<void>((resolve) => (cancelled = resolve));
    const a = await startH2Member('a', (stream) => stream.on('close', () => {
      rst = stream.rstCode;
      cancelled();
    }));
    const b = await startH2Member('b');
    const { app, port } = await h2cService(pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }], {}, { memberProtocol: 'h2c' }));
    const session = h2Connect(port, false);
    const pending = h2Request(session, { ':path': '/wait' });
    await until(() => a.requests.length === 1);
    app.runtime.member('p', 'a')!.setAdmin('disabled');
    const res = await pending;
    session.close();
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-member'], 'b');
    await gone;
    assert.equal(rst, http2.constants.NGHTTP2_CANCEL);
    await until(() => a.live.size === 0);
  });
});

describe('HTTP/2 members: GOAWAY and dead connections', () => {
  it('sends again, on a new connection, the POSTs a member did not process before its GOAWAY', async () => {
    let first = true;
    const m = await startH2Member('a', (stream, headers, member) => {
      if (first) {
        // the first stream is processed; every later one on this connection is not
        first = false;
        stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
      }
      echo(stream, headers, member);
    });
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }));
    const session = h2Connect(port, false);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => h2Request(session, { ':method': 'POST', ':path': `/n${i}` }, `body${i}`)));
    session.close();
    answers.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), `a POST /n${i} body${i}`);
    });
    assert.equal(m.sessions, 2);
  });

  it('fails the requests of a connection whose member stops answering PINGs, and counts it against the member', async () => {
    let hold: net.Socket | null = null;
    // a "member" that sends its SETTINGS (and acknowledges ours), then reads everything and answers nothing
    const dead = net.createServer((socket) => {
      hold = socket;
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0]));
    });
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    atEnd(async () => {
      (hold as net.Socket | null)?.destroy();
      await new Promise((r) => dead.close(r));
    });
    const deadPort = (dead.address() as net.AddressInfo).port;
    const { app, port } = await h2cService(pool('round-robin', [{ port: deadPort, id: 'dead' }], {}, { memberProtocol: 'h2c', http2: { maxConnectionsPerMember: 1, pingInterval: 100, pingTimeout: 100 } }), {
      // without the PING the response timeout would end it, with a 504
      timeouts: { ...service('http', 'p').http!.timeouts, response: 5_000 },
    });
    const session = h2Connect(port, false);
    const res = await h2Request(session, { ':method': 'POST', ':path': '/x' }, 'x');
    session.close();
    assert.equal(res.status, 502);
    const member = app.runtime.pools.get('p')!.members[0];
    assert.equal(member.failed, 1);
  });
});

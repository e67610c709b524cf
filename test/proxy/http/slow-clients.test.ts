// Slow clients cannot hold what others need: a request body that trickles is cut off by the
// minimum body rate or the whole-request deadline (408, the member connection closed and its
// slot freed); hundreds of slow request heads are closed by the headers timeout while other
// clients are served.

import assert from 'node:assert/strict';
import net from 'node:net';
import { it } from 'node:test';
import type { HttpServiceConfig } from '../../../src/config/http-types.ts';
import { httpServiceConfig } from '../../../src/config/http-schema.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { connection, httpConfig, raw, startMember } from './helpers.ts';
import { until } from '../../helpers/wait.ts';

const defaults = httpServiceConfig({ mode: 'http', timeouts: {} })!.timeouts;

/** Timeouts as given, the rest as the defaults. */
function timeouts(t: Partial<HttpServiceConfig['timeouts']>): Partial<HttpServiceConfig> {
  return { timeouts: { ...defaults, ...t } };
}

interface Trickle {
  /** body bytes written before the balancer answered */
  sent: number;
  status: number;
}

/**
 * A POST whose body comes a byte every `every` ms, at most `max` bytes (of a longer declared
 * body): resolves when the balancer answers and closes, or the bytes run out and it does.
 */
function trickle(port: number, every: number, max: number): Promise<Trickle> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let sent = 0;
    let text = '';
    let timer: NodeJS.Timeout | null = null;
    socket.on('connect', () => {
      socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${max * 2}\r\n\r\n`);
      timer = setInterval(() => {
        if (sent >= max || socket.destroyed || text !== '') return;
        socket.write('x');
        sent++;
      }, every);
    });
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
    socket.on('close', () => {
      if (timer !== null) clearInterval(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ sent, status: m === null ? 0 : Number(m[1]) });
    });
  });
}

describeOnEachEngine('slow request bodies', () => {
  it('cuts a body that falls under min-body-rate with 408 and frees the member slot', async () => {
    const m = await startMember('a');
    // one connection at a time, nobody waits: a held slot would answer 503
    const app = await startApp(httpConfig(
      pool('round-robin', [{ port: m.port, maxConnections: 1 }], { max: 0 }),
      timeouts({ body: 300, minBodyRate: 100 }),
      { timeouts: { connect: 2_000, idle: 2_000 } },
    ));
    const port = app.address('svc').port;
    // 50 bytes a second, under the 100 required once the 300 ms of grace are over
    const slow = await trickle(port, 20, 500);
    assert.equal(slow.status, 408);
    assert.ok(slow.sent < 500, `cut off while it trickled (${slow.sent} bytes sent)`);
    assert.equal(app.runtime.pools.get('p')!.members[0].active, 0);
    const next = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(next.status, 200);
  });

  it('cuts a request that takes longer than timeouts.request, however it trickles', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(
      pool('round-robin', [{ port: m.port, maxConnections: 1 }], { max: 0 }),
      // no minimum rate, a long pause allowed between reads: only the whole-request deadline applies
      timeouts({ body: 30_000, minBodyRate: 0, request: 400 }),
      { timeouts: { connect: 2_000, idle: 2_000 } },
    ));
    const port = app.address('svc').port;
    const slow = await trickle(port, 20, 500);
    assert.equal(slow.status, 408);
    assert.ok(slow.sent < 500, `cut off while it trickled (${slow.sent} bytes sent)`);
    const next = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(next.status, 200);
  });

  it('lets a body that keeps the rate through', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), timeouts({ body: 300, minBodyRate: 100 })));
    const body = 'y'.repeat(64 * 1024);
    const got = await raw(app.address('svc').port, `POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assert.equal(got.status, 200);
    assert.equal(m.requests[0].body.length, body.length);
  });
});

describeOnEachEngine('slow request heads', () => {
  it('closes hundreds of slow heads by the headers timeout while other clients are served', async () => {
    const m = await startMember('a');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), timeouts({ headers: 500 })));
    const port = app.address('svc').port;
    const SLOW = 300;
    const slow: Promise<{ text: string }>[] = [];
    for (let i = 0; i < SLOW; i++) {
      slow.push(new Promise((resolve) => {
        const socket = net.connect({ port, host: '127.0.0.1' });
        let text = '';
        socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n'));
        socket.on('data', (c: Buffer) => { text += c.toString('latin1'); });

        socket.on('error', () => {});
        socket.on('close', () => resolve({ text }));
      }));
    }
    // a good client, served while the slow ones wait for their deadline
    let closed = 0;
    for (const s of slow) void s.then(() => closed++);
    const good = await connection(port);
    let served = 0;
    while (closed < SLOW) {
      const got = await good.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(got, /^HTTP\/1\.1 200/);
      served++;
    }
    await good.close();
    const results = await Promise.all(slow);
    assert.equal(results.filter((r) => r.text.startsWith('HTTP/1.1 408')).length, SLOW);
    assert.ok(served > 0);
  });
});

describeOnEachEngine('a client that pipelines requests and does not read the answers', () => {
  /**
   * `n` answers of `size` bytes, more than the kernel's buffers take on loopback. Answers of 4 KB
   * or less leave with their head in one latin1 write (the engine may hold it to the turn's end),
   * larger ones as a head and a chunk.
   */
  async function pipelineUnread(size: number, n: number): Promise<void> {
    const body = 'k'.repeat(size); // an answer that comes in one read
    const m = await startMember('a', (_req, res) => res.end(body));
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const socket = net.connect({ port: app.address('svc').port, host: '127.0.0.1' });
    socket.pause();
    await new Promise((resolve) => socket.on('connect', resolve));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(n));
    // Held: no request in progress while some wait their turn. Before, the next one went to the
    // member as soon as an answer was written, whether or not the client read it, until every
    // answer was held in furiwake (1.3 GB for 20,000 such requests of 30 bytes each).
    const conn = () => [...app.runtime.connections.list()].find((e) => e.service === 'svc') as { request: unknown } | undefined;
    await until(() => m.requests.length === n || (m.requests.length > 0 && conn()?.request === null));
    assert.ok(m.requests.length < n, `all ${n} requests went to the member while the client read nothing`);
    // once the client reads, the rest is served, in order
    let got = 0;
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      for (;;) {
        const head = text.indexOf('\r\n\r\n');
        if (head === -1 || text.length < head + 4 + body.length) break;
        assert.match(text, /^HTTP\/1\.1 200 /);
        got++;
        text = text.slice(head + 4 + body.length);
      }
      if (got === n) socket.end();
    });
    socket.resume();
    await new Promise((resolve) => socket.on('close', resolve));
    assert.equal(got, n);
    assert.equal(m.requests.length, n);
  }

  it('has its next request wait until it reads: furiwake does not run ahead holding the answers', async () => {
    await pipelineUnread(60_000, 200); // 12 MB
  });

  it('... answers small enough to leave in one write with their head too', async () => {
    await pipelineUnread(4000, 5000); // 20 MB
  });
});

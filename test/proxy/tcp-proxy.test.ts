// The tcp data plane: retries, limits and the queue, PROXY protocol, half-close, the
// connection table. Real servers on loopback; assertions on what crossed the wire.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, it } from 'node:test';
import { V1ProxyProtocol, V2ProxyProtocol } from 'proxy-protocol-js';
import { startApp } from '../helpers/app.ts';
import { exchange, greeted, greeting } from '../helpers/clients.ts';
import { member, pool, single } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { freePort, refusedPort } from '../helpers/ports.ts';
import { until } from '../helpers/wait.ts';

const server = startTcpServer;

describeOnEachEngine('tcp service', () => {
  it('skips a member that refuses connections, without a client error', async () => {
    const a = await server('a');
    const c = await server('c');
    const refused = refusedPort();
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port }, { port: refused }, { port: c.port }])));
    const port = app.address('svc').port;
    const lines = [];
    for (let i = 0; i < 6; i++) lines.push(await greeting(port));
    assert.deepEqual(lines.sort(), ['a', 'a', 'a', 'c', 'c', 'c']);
    const down = app.runtime.member('p', `127.0.0.1:${refused}`)!;
    assert.ok(down.failed >= 2, `failed connects counted: ${down.failed}`);
  });

  it('resets the client when every member refuses', async () => {
    const app = await startApp(single('tcp', pool('round-robin', [{ port: await freePort() }]), { retries: 1 }));
    const result = await exchange(app.address('svc').port, 'hello');
    assert.equal(result.ending, 'reset');
    assert.equal(result.data.length, 0);
  });

  it('resets the client at once when no member is up', async () => {
    const a = await server('a');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
    app.runtime.member('p', 'a')!.setHealth('down', 'test');
    const result = await exchange(app.address('svc').port);
    assert.equal(result.ending, 'reset');
    assert.equal(a.accepted, 0);
  });

  it('uses a backup member only when no primary is usable', async () => {
    const primary = await server('primary');
    const backup = await server('backup');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: primary.port, id: 'p1' }, { port: backup.port, id: 'b1', backup: true }])));
    const port = app.address('svc').port;
    assert.deepEqual([await greeting(port), await greeting(port)], ['primary', 'primary']);
    app.runtime.member('p', 'p1')!.setAdmin('disabled');
    assert.deepEqual([await greeting(port), await greeting(port)], ['backup', 'backup']);
    app.runtime.member('p', 'p1')!.setAdmin('enabled');
    assert.equal(await greeting(port), 'primary');
  });

  it('holds max-connections under 200 concurrent clients, queueing the rest', async () => {
    const a = await server('a');
    const b = await server('b');
    const app = await startApp(single('tcp', pool('least-connections', [
      { port: a.port, maxConnections: 50 }, { port: b.port, maxConnections: 50 },
    ], { max: 200, timeout: 30_000 })));
    const port = app.address('svc').port;
    // 100 clients fill both members exactly
    const first = await Promise.all(Array.from({ length: 100 }, () => greeted(port)));
    assert.equal(a.open + b.open, 100);
    // 100 more must wait in the queue: nothing reaches a member while the first 100 hold
    const pending = Array.from({ length: 100 }, () => greeted(port));
    await waitForQueue(app.runtime.pools.get('p')!, 100);
    assert.equal(a.accepted + b.accepted, 100);
    for (const { socket } of first) socket.destroy();
    const second = await Promise.all(pending);
    assert.equal(second.length, 100);
    assert.equal(a.peak, 50);
    assert.equal(b.peak, 50);
    for (const { socket } of second) socket.destroy();
  });

  it('closes a queued connection cleanly when the queue times out', async () => {
    const a = await server('a');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port, maxConnections: 1 }], { max: 10, timeout: 50 })));
    const port = app.address('svc').port;
    const holder = await greeted(port);
    const waited = await exchange(port, 'anyone?');
    assert.equal(waited.ending, 'end');
    assert.equal(waited.data.length, 0);
    assert.equal(app.runtime.pools.get('p')!.queueTimeouts, 1);
    assert.equal(a.accepted, 1);
    holder.socket.destroy();
  });

  it('turns a client away cleanly when the queue is full', async () => {
    const a = await server('a');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port, maxConnections: 1 }], { max: 0, timeout: 50 })));
    const port = app.address('svc').port;
    const holder = await greeted(port);
    assert.equal((await exchange(port)).ending, 'end');
    holder.socket.destroy();
  });

  for (const version of ['v1', 'v2'] as const) {
    it(`sends a byte-correct PROXY ${version} header before the client's bytes`, async () => {
      const received: Buffer[] = [];
      const done = Promise.withResolvers<void>();
      const capture = await server('capture', (socket) => {
        socket.on('data', (c: Buffer) => received.push(c));
        socket.on('end', () => {
          socket.end();
          done.resolve();
        });
      });
      const app = await startApp(single('tcp', pool('round-robin', [{ port: capture.port }]), { proxyProtocol: version }));
      const vip = app.address('svc');
      const client = net.connect({ port: vip.port, host: '127.0.0.1', allowHalfOpen: true });
      await once(client, 'connect');
      const clientPort = client.localPort!;
      client.end('payload');
      client.resume();
      await done.promise;
      const bytes = Buffer.concat(received);
      if (version === 'v1') {
        const text = bytes.toString('latin1');
        const headerEnd = text.indexOf('\r\n') + 2;
        const header = V1ProxyProtocol.parse(text.slice(0, headerEnd));
        assert.equal(header.source.ipAddress, '127.0.0.1');
        assert.equal(header.source.port, clientPort);
        assert.equal(header.destination.ipAddress, '127.0.0.1');
        assert.equal(header.destination.port, vip.port);
        assert.equal(text.slice(headerEnd), 'payload');
      } else {
        const header = V2ProxyProtocol.parse(bytes);
        const address = header.proxyAddress as unknown as { sourceAddress: { address: number[] }; sourcePort: number; destinationAddress: { address: number[] }; destinationPort: number };
        assert.deepEqual(address.sourceAddress.address, [127, 0, 0, 1]);
        assert.equal(address.sourcePort, clientPort);
        assert.deepEqual(address.destinationAddress.address, [127, 0, 0, 1]);
        assert.equal(address.destinationPort, vip.port);
        assert.equal(bytes.subarray(16 + 12).toString(), 'payload');
      }
    });
  }

  it('passes a half-close through: the client that shut its write side gets the whole reply', async () => {
    const reply = Buffer.alloc(4 * 1024 * 1024, 'x');
    const upper = await server('upper', (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      // the member answers only after the client's FIN arrived
      socket.on('end', () => {
        socket.write(Buffer.concat(chunks).toString().toUpperCase());
        socket.end(reply);
      });
    });
    const app = await startApp(single('tcp', pool('round-robin', [{ port: upper.port }])));
    const result = await exchange(app.address('svc').port, 'question');
    assert.equal(result.ending, 'end');
    assert.equal(result.data.subarray(0, 8).toString(), 'QUESTION');
    assert.equal(result.data.length, 8 + reply.length);
  });

  // The member's FIN goes on to the client as a shutdown nothing waits for: what ends the
  // connection afterwards is read from the client, a FIN or a reset.
  it("passes on the member's FIN first: the client may still send, and its FIN then closes both sides", async () => {
    let heard = '';
    const early = await server('early', (socket) => {
      socket.end('bye\n');
      socket.on('data', (c: Buffer) => (heard += c.toString()));
      socket.on('end', () => (heard += '<FIN>'));
    });
    const app = await startApp(single('tcp', pool('round-robin', [{ port: early.port, id: 'e' }])));
    const client = net.connect({ port: app.address('svc').port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    client.on('data', (c: Buffer) => (got += c.toString()));
    await once(client, 'end');
    assert.equal(got, 'bye\n');
    client.end('late words');
    await once(client, 'close');
    await app.runtime.connections.drained();
    await until(() => early.open === 0);
    assert.equal(heard, 'late words<FIN>');
    assert.equal(app.runtime.member('p', 'e')!.active, 0);
  });

  it("a client that resets after the member's FIN was passed on resets the member too and frees the connection", async () => {
    const member = { reset: false };
    const early = await server('early', (socket) => {
      socket.end('bye\n');
      socket.on('data', () => {});
      socket.on('error', (err: NodeJS.ErrnoException) => (member.reset = err.code === 'ECONNRESET'));
    });
    const app = await startApp(single('tcp', pool('round-robin', [{ port: early.port, id: 'e' }])));
    const client = net.connect({ port: app.address('svc').port, host: '127.0.0.1', allowHalfOpen: true });
    client.on('data', () => {});
    await once(client, 'end');
    client.resetAndDestroy();
    await app.runtime.connections.drained();
    await until(() => early.open === 0);
    assert.equal(member.reset, true, 'the member saw a reset, not a clean close');
    assert.equal(app.runtime.member('p', 'e')!.active, 0);
  });

  it('a client that sends FIN then RST at once, mid-reply, frees the connection and the member', async () => {
    const big = await server('big', (socket) => {
      socket.on('data', () => {});
      socket.on('end', () => socket.end());
      // far more than the socket buffers hold: the client has unread bytes when it closes
      socket.write(Buffer.alloc(8 * 1024 * 1024));
    });
    const app = await startApp(single('tcp', pool('round-robin', [{ port: big.port, id: 'big' }])));
    for (let i = 0; i < 5; i++) {
      const client = net.connect({ port: app.address('svc').port, host: '127.0.0.1' });
      client.on('error', () => {});
      await once(client, 'data');
      client.pause();
      // end() sends a FIN; destroying with unread data makes the kernel send a RST right after
      client.end();
      client.destroy();
    }
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 'big')!.active, 0);
  });

  it('passes on a FIN the client sent while it waited for a member', { timeout: 10_000 }, async () => {
    const a = await server('a');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port, maxConnections: 1 }], { max: 10, timeout: 10_000 })));
    const port = app.address('svc').port;
    const holder = await greeted(port);
    // queued: sends nothing and shuts its write side at once
    const waiting = exchange(port, '');
    await until(() => app.runtime.pools.get('p')!.queued === 1);
    holder.socket.destroy();
    // the member must see the FIN and close, so the client gets the greeting and a clean end
    const result = await waiting;
    assert.equal(result.data.toString(), 'a\n');
    assert.equal(result.ending, 'end');
  });

  it('delivers every byte intact to several slow readers at once (backpressure, shared read buffer)', async () => {
    const payload = randomBytes(6 * 1024 * 1024);
    const digest = createHash('sha256').update(payload).digest('hex');
    const source = await server('random', (socket) => {
      socket.on('data', () => {});
      socket.end(payload);
    });
    const app = await startApp(single('tcp', pool('round-robin', [{ port: source.port }])));
    const port = app.address('svc').port;
    const read = (): Promise<string> => new Promise((resolve, reject) => {
      const hash = createHash('sha256');
      const socket = net.connect({ port, host: '127.0.0.1' });
      let chunks = 0;
      socket.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        // stall every few chunks so the balancer's writes back up
        if (++chunks % 8 === 0) {
          socket.pause();
          setImmediate(() => socket.resume());
        }
      });
      socket.on('end', () => resolve(hash.digest('hex')));
      socket.on('error', reject);
    });
    const digests = await Promise.all([read(), read(), read(), read()]);
    assert.deepEqual(digests, [digest, digest, digest, digest]);
  });

  it('closes a connection with no traffic either way after the idle timeout, freeing the member', async () => {
    const silent = await server('silent', (socket) => socket.on('data', () => {}));
    const app = await startApp(single('tcp', pool('round-robin', [{ port: silent.port, id: 's' }]), { timeouts: { connect: 2_000, idle: 50 } }));
    const client = net.connect({ port: app.address('svc').port, host: '127.0.0.1' });
    client.on('error', () => {});
    await once(client, 'connect');
    await once(client, 'close');
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 's')!.active, 0);
  });

  it('keeps a connection open past the idle timeout while bytes pass either way, and closes it once they stop', async () => {
    // Traffic a byte every 20 ms, for three times the 200 ms idle timeout: first from the member
    // (the client is silent), then from the client (the member is silent).
    const BYTES = 30;
    const pace = (send: () => void): Promise<void> => new Promise((resolve) => {
      let n = 0;
      const tick = setInterval(() => {
        send();
        if (++n === BYTES) clearInterval(tick), resolve();
      }, 20);
    });
    let heard = 0;
    const talker = await server('talker', (socket) => {
      socket.on('data', (chunk: Buffer) => (heard += chunk.length));
      void pace(() => socket.write('m'));
    });
    const app = await startApp(single('tcp', pool('round-robin', [{ port: talker.port, id: 't' }]), { timeouts: { connect: 2_000, idle: 200 } }));
    const client = net.connect({ port: app.address('svc').port, host: '127.0.0.1' });
    client.on('error', () => {});
    let got = 0;
    client.on('data', (chunk: Buffer) => (got += chunk.length));
    const closed = once(client, 'close');
    await Promise.race([until(() => got === BYTES, client, 'data'), closed]);
    assert.equal(client.closed, false, 'closed while the member was talking');
    await Promise.race([pace(() => client.write('c')).then(() => until(() => heard === BYTES)), closed]);
    assert.equal(client.closed, false, 'closed while the client was talking');
    // silence both ways: the idle timeout ends it
    await closed;
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 't')!.active, 0);
  });

  it('translates the port: the member listens on another port than the service', async () => {
    const a = await server('a');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port }])));
    assert.notEqual(app.address('svc').port, a.port);
    assert.equal(await greeting(app.address('svc').port), 'a');
  });

  it('carries IPv6 both ways: a service on [::1] in front of a member on [::1]', async () => {
    const v6 = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.write(`hello ${socket.remoteAddress}\n`);
      socket.resume();
      socket.on('end', () => socket.end());
    });
    v6.listen(0, '::1');
    await once(v6, 'listening');
    after(() => v6.close());
    const port = (v6.address() as net.AddressInfo).port;
    const p = pool('round-robin', []);
    p.members = [{ ...member({ port }), address: { host: '::1', port, ip: '::1' }, id: 'v6' }];
    const app = await startApp(single('tcp', p, { listen: { host: '::1', port: 0, ip: '::1' } }));
    const vip = app.address('svc');
    assert.equal(vip.address, '::1');
    const client = net.connect({ host: '::1', port: vip.port });
    const [greeting] = await once(client, 'data');
    // the member saw the balancer's IPv6 address
    assert.equal(greeting.toString(), 'hello ::1\n');
    const [entry] = [...app.runtime.connections.list({ service: 'svc' })];
    assert.deepEqual(entry.client, { address: '::1', port: client.localPort });
    assert.deepEqual(entry.vip, { address: '::1', port: vip.port });
    assert.equal(entry.local?.address, '::1');
    client.end();
    await once(client, 'close');
    await app.runtime.connections.drained();
  });

  it('lists live connections in the connection table and removes them on close', async () => {
    const a = await server('a');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
    const vip = app.address('svc');
    const held = await Promise.all([greeted(vip.port), greeted(vip.port), greeted(vip.port)]);
    const table = app.runtime.connections;
    assert.equal(table.size, 3);
    const entries = [...table.list({ service: 'svc' })];
    for (const { socket } of held) {
      const entry = entries.find((e) => e.client.port === socket.localPort);
      assert.ok(entry, `an entry for client port ${socket.localPort}`);
      assert.equal(entry.protocol, 'tcp');
      assert.equal(entry.client.address, '127.0.0.1');
      assert.deepEqual(entry.vip, { address: '127.0.0.1', port: vip.port });
      assert.equal(entry.member?.id, 'a');
      // the balancer-side port is the one the member saw
      assert.ok(a.peers.includes(`127.0.0.1:${entry.local?.port}`));
      assert.equal(entry.bytesOut, 2); // "a\n"
    }
    held[0].socket.write('12345');
    await until(() => entries.some((e) => e.bytesIn === 5));
    for (const { socket } of held) socket.destroy();
    await table.drained();
    assert.equal(table.size, 0);
    assert.equal(app.runtime.member('p', 'a')!.active, 0);
    assert.equal(app.runtime.member('p', 'a')!.total, 3);
  });
});

/** Waits until the pool's queue holds `n` connections (each arrival is an accept on our side). */
async function waitForQueue(p: { queued: number }, n: number): Promise<void> {
  await until(() => p.queued >= n);
}

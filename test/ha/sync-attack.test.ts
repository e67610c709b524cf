// The replication link (ha.sync) attacked on loopback by peers written here byte by byte: one
// without the key that reflects a node's own challenges, a node configured to reach itself, a
// holder of the key that breaks the rules after authentication (a bad MAC, a replayed frame), a
// flood of connections that never authenticate, plain TCP where TLS is configured, frames near
// the size limit, and a full resynchronisation larger than what a peer may leave unread.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import type { HaSyncConfig } from '../../src/config/ha-types.ts';
import { followSync, type HaSync } from '../../src/ha/sync.ts';
import { answer, FRAME_MAC_BYTES, frameKey, frameMac, nonce as freshNonce, type LinkRole } from '../../src/ha/sync-auth.ts';
import { encodeMessage, FrameReader, lengthPrefix, MAX_FRAME, parseMessage, type SyncMessage } from '../../src/ha/sync-frame.ts';
import { createLogger } from '../../src/log.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { pool, single } from '../helpers/config.ts';
import { freePort } from '../helpers/ports.ts';
import { until } from '../helpers/wait.ts';
import { caSigned, certDir } from '../proxy/http/certs.ts';

const KEY = 'a-shared-key-of-32-characters-ok';

const at = (port: number) => ({ host: '127.0.0.1', ip: '127.0.0.1', port });

const nodes: HaSync[] = [];
const sockets: net.Socket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(nodes.map((n) => n.close()));
});

/** A node with one source-ip service (members m1, m2 in pool p) whose sync link listens on `listen` and dials `peers`. */
async function node(listen: number, peers: number[], tls: HaSyncConfig['tls'] = null): Promise<{ sync: HaSync; runtime: Runtime }> {
  const runtime = new Runtime();
  runtime.apply(single('tcp', pool('round-robin', [{ port: 9, id: 'm1' }, { port: 10, id: 'm2' }]), {
    persistence: { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 600_000, maxEntries: 1_000 },
  }));
  const config: HaSyncConfig = { listen: at(listen), peers: peers.map(at), key: KEY, tls };
  const { sync, failure } = await followSync(null, config, runtime, createLogger('silent'));
  assert.equal(failure, null);
  nodes.push(sync!);
  return { sync: sync!, runtime };
}

/** One end of a link, spoken by hand: frames in, frames out, no rules but the ones a test follows. */
class Wire {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  isClosed = false;
  readonly #reader = new FrameReader();
  readonly #bodies: Buffer[] = [];
  #wake: (() => void) | null = null;

  constructor(socket: net.Socket) {
    this.socket = socket;
    sockets.push(socket);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      const out = this.#reader.push(chunk, MAX_FRAME + FRAME_MAC_BYTES);
      assert.ok(typeof out !== 'string', 'the node sent a frame out of bounds');
      this.#bodies.push(...out);
      this.#wake?.();
    });
    this.closed = new Promise((resolve) => socket.on('close', () => {
      this.isClosed = true;
      this.#wake?.();
      resolve();
    }));
  }

  static async connect(port: number): Promise<Wire> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await once(socket, 'connect');
    return new Wire(socket);
  }

  /** The next frame body; null once the node closed the link. */
  async body(): Promise<Buffer | null> {
    while (this.#bodies.length === 0) {
      if (this.isClosed) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = null;
    }
    return this.#bodies.shift()!;
  }

  /** The next handshake message (unsigned). */
  async handshake(): Promise<SyncMessage> {
    const body = await this.body();
    assert.ok(body !== null, 'the node closed the link during the handshake');
    const parsed = parseMessage(body);
    assert.ok(parsed.ok);
    return parsed.message;
  }

  raw(body: Buffer): void {
    this.socket.write(Buffer.concat([lengthPrefix(body.length), body]));
  }

  write(m: SyncMessage): void {
    this.raw(encodeMessage(m));
  }
}

/** A peer that holds the key: its handshake done on `wire`, then signed frames with a sequence it controls. */
class KeyedPeer {
  readonly wire: Wire;
  seq = 0;
  #sendKey: Buffer;

  private constructor(wire: Wire, sendKey: Buffer) {
    this.wire = wire;
    this.#sendKey = sendKey;
  }

  /** Connects to a node's sync listener and proves the key, as a node named `name`. */
  static async connect(port: number, name = 'peer.test:1'): Promise<KeyedPeer> {
    return KeyedPeer.handshake(await Wire.connect(port), 'connect', name);
  }

  /** Proves the key on `wire`, whose TCP connection this end opened ('connect') or took ('accept'). */
  static async handshake(wire: Wire, role: LinkRole, name: string): Promise<KeyedPeer> {
    const own = freshNonce();
    const key = Buffer.from(KEY);
    wire.write({ type: 'hello', version: 1, node: name, nonce: own });
    const hello = await wire.handshake();
    assert.equal(hello.type, 'hello');
    const theirs = hello.type === 'hello' ? hello.nonce : Buffer.alloc(0);
    wire.write({ type: 'auth', mac: answer(key, role, theirs, own, name) });
    assert.equal((await wire.handshake()).type, 'auth');
    return new KeyedPeer(wire, role === 'connect' ? frameKey(key, role, own, theirs) : frameKey(key, role, theirs, own));
  }

  /** A frame body signed with `seq` (the next one by default). */
  signed(m: SyncMessage, seq = this.seq++): Buffer {
    const body = encodeMessage(m);
    return Buffer.concat([body, frameMac(this.#sendKey, seq, body)]);
  }

  send(m: SyncMessage): Buffer {
    const body = this.signed(m);
    this.wire.raw(body);
    return body;
  }
}

const rowOf = (sync: HaSync, peer: string) => sync.status().peers.find((p) => p.peer === peer);
const failures = (sync: HaSync): number => sync.status().peers.reduce((n, p) => n + p.authFailures, 0);
const table = (runtime: Runtime) => runtime.services.get('svc')!.persistence!.table!;

describe('ha sync attacked before authentication', () => {
  it('a stranger without the key cannot authenticate by reflecting a node\'s own challenge between two links', async () => {
    // the node dials the stranger (its configured peer's address) and the stranger dials the node
    const trap = net.createServer();
    trap.listen(0, '127.0.0.1');
    await once(trap, 'listening');
    const trapPort = (trap.address() as net.AddressInfo).port;
    const dialed = once(trap, 'connection');
    const listen = await freePort();
    const { sync } = await node(listen, [trapPort]);
    const d = new Wire((await dialed)[0] as net.Socket);
    const dHello = await d.handshake();
    assert.ok(dHello.type === 'hello');
    const l = await Wire.connect(listen);
    const lHello = await l.handshake();
    assert.ok(lHello.type === 'hello');
    // on L, the node's own nonce from D: the node answers with what D expects from its peer...
    l.write({ type: 'hello', version: 1, node: dHello.node, nonce: dHello.nonce });
    const lAuth = await l.handshake().catch(() => null);
    if (lAuth !== null && lAuth.type === 'auth') {
      // ...which D is then given, under the node's own nonce from L and its own name
      d.write({ type: 'hello', version: 1, node: lHello.node, nonce: lHello.nonce });
      const dAuth = await d.handshake().catch(() => null);
      d.write({ type: 'auth', mac: lAuth.mac });
      if (dAuth !== null && dAuth.type === 'auth') l.write({ type: 'auth', mac: dAuth.mac });
    }
    const peer = `127.0.0.1:${trapPort}`;
    await until(() => rowOf(sync, peer)?.connected === true || failures(sync) > 0);
    assert.equal(rowOf(sync, peer)?.connected, false);
    assert.ok(failures(sync) >= 1);
    await l.closed;
    assert.equal(sync.status().peers.some((p) => p.connected), false);
    trap.close();
  });

  it('a node whose peers name itself refuses the link it opened to itself', async () => {
    const listen = await freePort();
    const { sync } = await node(listen, [listen]);
    await until(() => sync.status().peers.some((p) => p.connected) || failures(sync) > 0);
    assert.equal(sync.status().peers.some((p) => p.connected), false);
  });

  it('connections that never authenticate cannot keep a peer out: the oldest waiting one makes room', async () => {
    const listen = await freePort();
    const { sync } = await node(listen, []);
    const strangers: Wire[] = [];
    for (let i = 0; i < 80; i++) strangers.push(await Wire.connect(listen));
    const peer = await KeyedPeer.connect(listen);
    await until(() => rowOf(sync, 'peer.test:1')?.connected === true);
    // the newest strangers still wait for their handshake timeout; the oldest were dropped for room
    assert.ok(strangers.slice(-32).every((w) => !w.isClosed));
    assert.ok(strangers[0].isClosed);
    assert.ok(!peer.wire.isClosed);
    for (const w of strangers) w.socket.destroy();
  });
});

describe('ha sync with TLS configured', () => {
  it('a peer that holds the key but speaks plain TCP is refused both ways: no downgrade', async () => {
    const dir = certDir();
    const { ca, server } = caSigned(dir, ['DNS:node.test']);
    // the node dials a plain-TCP listener that answers with a hello of its own
    const trap = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.resume();
      const hello = encodeMessage({ type: 'hello', version: 1, node: 'plain.test', nonce: freshNonce() });
      socket.write(Buffer.concat([lengthPrefix(hello.length), hello]));
    });
    trap.listen(0, '127.0.0.1');
    await once(trap, 'listening');
    const dialed = once(trap, 'connection');
    const listen = await freePort();
    const { sync, runtime } = await node(listen, [(trap.address() as net.AddressInfo).port], { cert: server.cert, key: server.key, ca: ca.cert });
    // a plain hello to its TLS listener
    const wire = await Wire.connect(listen);
    wire.write({ type: 'hello', version: 1, node: 'plain.test', nonce: freshNonce() });
    wire.write({ type: 'stick', service: 'svc', entries: [{ key: '192.0.2.66', member: 'm1', expiresIn: 60_000 }] });
    await wire.closed;
    await until(() => failures(sync) > 0);
    // the node's TLS client gives up on the plain answer and closes
    const [socket] = (await dialed) as [net.Socket];
    if (!socket.destroyed) await once(socket, 'close');
    assert.equal(sync.status().peers.some((p) => p.connected), false);
    assert.equal(table(runtime).peek('192.0.2.66'), undefined);
    trap.close();
  });
});

describe('ha sync attacked slowly', () => {
  it('a TLS handshake sent a byte at a time is cut at the handshake timeout, not held for minutes', { timeout: 30_000 }, async () => {
    const dir = certDir();
    const { ca, server } = caSigned(dir, ['DNS:node.test']);
    const listen = await freePort();
    const { sync } = await node(listen, [], { cert: server.cert, key: server.key, ca: ca.cert });
    const wire = await Wire.connect(listen);
    // a TLS record header announcing 512 bytes, then one byte every 100 ms: 50 s to complete it,
    // and each byte started the TLS server's own timeout again
    wire.socket.write(Buffer.of(0x16, 0x03, 0x01, 0x02, 0x00));
    const drip = setInterval(() => wire.socket.write(Buffer.of(1)), 100);
    await wire.closed;
    clearInterval(drip);
    assert.equal(sync.status().peers.some((p) => p.connected), false);
  });
});

describe('ha sync attacked after authentication', () => {
  it('drops a peer whose frame has a bad MAC, or replays a frame, and applies neither', async () => {
    const listen = await freePort();
    const { sync, runtime } = await node(listen, []);
    const stick = (key: string): SyncMessage => ({ type: 'stick', service: 'svc', entries: [{ key, member: 'm1', expiresIn: 60_000 }] });
    // a good frame is applied
    const one = await KeyedPeer.connect(listen);
    const good = one.send(stick('192.0.2.1'));
    await until(() => table(runtime).peek('192.0.2.1') !== undefined);
    // the same frame again (its sequence number already used): dropped, counted
    one.wire.raw(good);
    await one.wire.closed;
    // a frame whose MAC is one bit off
    const two = await KeyedPeer.connect(listen);
    const bad = two.signed(stick('192.0.2.2'));
    bad[bad.length - 1] ^= 1;
    two.wire.raw(bad);
    await two.wire.closed;
    // a frame signed for a sequence number ahead of the expected one
    const three = await KeyedPeer.connect(listen);
    three.wire.raw(three.signed(stick('192.0.2.3'), 5));
    await three.wire.closed;
    assert.equal(table(runtime).peek('192.0.2.2'), undefined);
    assert.equal(table(runtime).peek('192.0.2.3'), undefined);
    assert.equal(failures(sync), 3);
  });

  it('frames just under the limit for services this node does not have are ignored, and the link stays up', async () => {
    const listen = await freePort();
    const { sync, runtime } = await node(listen, []);
    const peer = await KeyedPeer.connect(listen);
    // about 1 MiB each: keys of 100 bytes
    const entries = Array.from({ length: 9_500 }, (_, i) => ({ key: `${'k'.repeat(92)}${String(i).padStart(8, '0')}`, member: 'm1', expiresIn: 60_000 }));
    const body = encodeMessage({ type: 'stick', service: 'gone', entries });
    assert.ok(body.length + FRAME_MAC_BYTES < MAX_FRAME && body.length > MAX_FRAME - 64 * 1024);
    for (let i = 0; i < 20; i++) peer.send({ type: 'stick', service: 'gone', entries });
    peer.send({ type: 'stick', service: 'svc', entries: [{ key: '192.0.2.9', member: 'm2', expiresIn: 60_000 }] });
    await until(() => table(runtime).peek('192.0.2.9') !== undefined);
    assert.equal(rowOf(sync, 'peer.test:1')?.received, 1);
    assert.ok(!peer.wire.isClosed);
  });

  it('a full resynchronisation larger than the most a peer may fall behind reaches a peer that reads', async () => {
    // about 75 MB of entries, more than the 64 MiB a peer may leave unread: written all at once,
    // the link was dropped before the peer could read it, and again on every return
    const trap = net.createServer();
    trap.listen(0, '127.0.0.1');
    await once(trap, 'listening');
    const dialed = once(trap, 'connection');
    const runtime = new Runtime();
    runtime.apply(single('tcp', pool('round-robin', [{ port: 9, id: 'm1' }]), {
      persistence: { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 600_000, maxEntries: 400_000 },
    }));
    const t = table(runtime);
    const N = 360_000;
    const pad = 'k'.repeat(192);
    for (let i = 0; i < N; i++) t.set(`${pad}${String(i).padStart(8, '0')}`, 'm1');
    const { sync, failure } = await followSync(null, { listen: at(0), peers: [at((trap.address() as net.AddressInfo).port)], key: KEY, tls: null }, runtime, createLogger('silent'));
    assert.equal(failure, null);
    nodes.push(sync!);
    const wire = new Wire((await dialed)[0] as net.Socket);
    await KeyedPeer.handshake(wire, 'accept', 'receiver.test:1');
    let entries = 0;
    for (;;) {
      const body = await wire.body();
      assert.ok(body !== null, `the node dropped the link after ${entries} entries`);
      const parsed = parseMessage(body.subarray(0, body.length - FRAME_MAC_BYTES));
      assert.ok(parsed.ok);
      if (parsed.message.type === 'stick') entries += parsed.message.entries.length;
      if (parsed.message.type === 'synced') break;
    }
    assert.equal(entries, N);
    trap.close();
  });
});

// The handles engine holds latin1 writes (heads, small responses) until the end of the loop's
// turn and writes them together (handle-stream.ts, writeHeld). What must not change with it:
// the bytes and the FIN in the order the owner wrote them, a close that sends what was written
// before it, and streamDrained only for an owner that was told false.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import { loadHandleEngine } from '../../src/proxy/handle-engine.ts';
import type { Stream, StreamOwner } from '../../src/proxy/stream.ts';
import { until } from '../helpers/wait.ts';

interface Peer {
  socket: net.Socket;
  /** everything the peer read, once it has read our FIN */
  whole: Promise<string>;
}

/** A loopback server whose connections are collected as peers reading until our FIN. */
async function peerServer(): Promise<{ server: net.Server; port: number; peers: Peer[] }> {
  const peers: Peer[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    const whole = new Promise<string>((resolve) => socket.on('end', () => resolve(text)));
    peers.push({ socket, whole });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port, peers };
}

class Owner implements StreamOwner {
  drained = 0;
  errors: string[] = [];
  readonly connected = Promise.withResolvers<void>();
  readonly closed = Promise.withResolvers<void>();
  streamData(): boolean {
    return true;
  }
  streamEnd(): void {}
  streamDrained(): void {
    this.drained++;
  }
  streamConnected(): void {
    this.connected.resolve();
  }
  streamError(_s: Stream, code: string): void {
    this.errors.push(code);
  }
  streamClosed(): void {
    this.closed.resolve();
  }
}

async function connected(port: number): Promise<{ stream: Stream; owner: Owner }> {
  const owner = new Owner();
  const stream = loadHandleEngine().connect('127.0.0.1', port, owner);
  await owner.connected.promise;
  return { stream, owner };
}

it('handles: a latin1 write waits for the end of the turn, and bytes and FIN keep the order they were written in', { timeout: 30_000 }, async () => {
  const { server, port, peers } = await peerServer();
  const a = await connected(port);
  const b = await connected(port);
  try {
    await until(() => peers.length === 2);
    assert.equal(a.stream.writeLatin1('head-a\r\n'), true);
    assert.equal(b.stream.writeLatin1('head-b\r\n'), true);
    // held, not given to the kernel yet: still queued, counted as written
    assert.equal(a.stream.bytesQueued, 8);
    assert.equal(a.stream.bytesWritten, 8);
    a.stream.writeLatin1('more-a\r\n');
    // a chunk written after held text goes after it
    a.stream.write(Buffer.from('chunk-a|'));
    a.stream.writeLatin1('tail-a');
    a.stream.end();
    b.stream.writeLatin1('tail-b');
    b.stream.end();
    const [first, second] = await Promise.all(peers.map((p) => p.whole));
    const texts = [first, second].sort();
    assert.deepEqual(texts, ['head-a\r\nmore-a\r\nchunk-a|tail-a', 'head-b\r\ntail-b']);
    assert.equal(a.stream.bytesWritten, 30);
    assert.equal(a.owner.drained, 0);
    assert.deepEqual(a.owner.errors, []);
  } finally {
    a.stream.close();
    b.stream.close();
    await Promise.all([a.owner.closed.promise, b.owner.closed.promise]);
    server.close();
  }
});

it('handles: close() and closeAfterWrites() send the text held before them', { timeout: 30_000 }, async () => {
  const { server, port, peers } = await peerServer();
  const a = await connected(port);
  const b = await connected(port);
  try {
    await until(() => peers.length === 2);
    a.stream.writeLatin1('before close');
    a.stream.close();
    b.stream.writeLatin1('before closeAfterWrites');
    b.stream.closeAfterWrites();
    const texts = (await Promise.all(peers.map((p) => p.whole))).sort();
    assert.deepEqual(texts, ['before close', 'before closeAfterWrites']);
  } finally {
    await Promise.all([a.owner.closed.promise, b.owner.closed.promise]);
    server.close();
  }
});

it('handles: streamDrained comes only to an owner that was told false', { timeout: 60_000 }, async () => {
  const { server, port, peers } = await peerServer();
  const a = await connected(port);
  try {
    await until(() => peers.length === 1);
    const peer = peers[0].socket;
    // more than the kernel's buffers take while the peer does not read: the held write is queued
    const big = 'x'.repeat(16 * 1024 * 1024);
    const queuedBehindPeer = async (): Promise<void> => {
      peer.pause();
      assert.equal(a.stream.writeLatin1(big), true);
      await until(() => a.stream.bytesQueued > 0 && a.stream.bytesQueued < big.length);
    };
    // queued, but the owner was told it was taken: no streamDrained owed
    await queuedBehindPeer();
    peer.resume();
    await until(() => a.stream.bytesQueued === 0);
    assert.equal(a.owner.drained, 0);
    // a chunk written behind a queued one waits too: this owner is told false, and is owed one
    await queuedBehindPeer();
    assert.equal(a.stream.write(Buffer.from('end')), false);
    peer.resume();
    await until(() => a.owner.drained === 1);
    a.stream.end();
    const text = await peers[0].whole;
    assert.equal(text.length, 2 * big.length + 3);
    assert.ok(text.endsWith('xend'));
    assert.equal(a.owner.drained, 1);
  } finally {
    a.stream.close();
    await a.owner.closed.promise;
    server.close();
  }
});

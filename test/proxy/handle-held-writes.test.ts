// The handles engine holds latin1 writes (heads, small responses) until the end of the loop's
// turn and writes them together (handle-stream.ts, writeHeld). What must not change with it:
// the bytes and the FIN in the order the owner wrote them, a close that sends what was written
// before it, streamDrained only for an owner that was told false, backpressure for an owner
// whose peer does not read, and one streamError, as the stream's, never from the owner's close.

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

/** Two streams connected to one peer server, both accepted. */
async function twoStreams(): Promise<{ server: net.Server; peers: Peer[]; a: { stream: Stream; owner: Owner }; b: { stream: Stream; owner: Owner } }> {
  const { server, port, peers } = await peerServer();
  const a = await connected(port);
  const b = await connected(port);
  await until(() => peers.length === 2);
  return { server, peers, a, b };
}

it('handles: a latin1 write waits for the end of the turn, and bytes and FIN keep the order they were written in', { timeout: 30_000 }, async () => {
  const { server, peers, a, b } = await twoStreams();
  try {
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
  const { server, peers, a, b } = await twoStreams();
  try {
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

/** Turns of the loop until a held write of `piece` is one the kernel did not take whole (the peer does not read); returns what was written. */
async function fillKernel(stream: Stream, piece: string): Promise<number> {
  let sent = 0;
  while (stream.bytesQueued === 0) {
    assert.equal(stream.writeLatin1(piece), true);
    sent += piece.length;
    // (the turn's end: this immediate runs after the one that writes the held text)
    await new Promise(setImmediate);
  }
  return sent;
}

it('handles: streamDrained comes only to an owner that was told false; behind waiting writes, and past the hold limit, text is written at once', { timeout: 60_000 }, async () => {
  const { server, port, peers } = await peerServer();
  const a = await connected(port);
  try {
    await until(() => peers.length === 1);
    const peer = peers[0].socket;
    const piece = 'x'.repeat(8 * 1024);
    // held writes until one is queued, but the owner was told each was taken: no streamDrained owed
    peer.pause();
    let sent = await fillKernel(a.stream, piece);
    peer.resume();
    await until(() => a.stream.bytesQueued === 0);
    assert.equal(a.owner.drained, 0);
    // Text written behind a queued write waits too: not held, the owner is told false (it keeps
    // its backpressure), and is owed a streamDrained; so is one told false by a chunk's write.
    peer.pause();
    sent += await fillKernel(a.stream, piece);
    assert.equal(a.stream.writeLatin1('behind'), false);
    assert.equal(a.stream.write(Buffer.from('end')), false);
    peer.resume();
    await until(() => a.owner.drained === 1);
    // more text in one turn than the hold limit: written at once, the kernel takes it whole
    assert.equal(a.stream.writeLatin1('y'.repeat(10_000)), true);
    assert.equal(a.stream.bytesQueued, 10_000);
    assert.equal(a.stream.writeLatin1('z'.repeat(10_000)), true);
    assert.equal(a.stream.bytesQueued, 0);
    a.stream.end();
    const text = await peers[0].whole;
    assert.equal(text.length, sent + 'behindend'.length + 20_000);
    assert.ok(text.endsWith(`xbehindend${'y'.repeat(10_000)}${'z'.repeat(10_000)}`));
    assert.equal(a.owner.drained, 1);
  } finally {
    a.stream.close();
    await a.owner.closed.promise;
    server.close();
  }
});

/** The peer (in this process) of `stream`. */
function peerOf(peers: Peer[], stream: Stream): net.Socket {
  const port = stream.local().port;
  return peers.find((p) => p.socket.remotePort === port)!.socket;
}

it('handles: a read that fails on a stream with held text is reported once, as what broke it', { timeout: 30_000 }, async () => {
  const { server, port, peers } = await peerServer();
  const b = await connected(port);
  try {
    await until(() => peers.length === 1);
    peers[0].socket.resetAndDestroy();
    // From an immediate, the text is held to the next turn's end, after that turn's poll, where
    // the read reports the reset (loopback: it has reached our socket when the peer's call returns).
    await new Promise(setImmediate);
    b.stream.writeLatin1('written as the peer resets');
    b.stream.resume();
    await b.owner.closed.promise;
    assert.deepEqual(b.owner.errors, ['ECONNRESET']);
  } finally {
    server.close();
  }
});

it('handles: close() and reset() of a stream whose held text the peer refuses tell the owner no error, only the close', { timeout: 30_000 }, async () => {
  const { server, peers, a, b } = await twoStreams();
  try {
    // (loopback: the reset has reached our socket when the peer's call returns)
    peerOf(peers, a.stream).resetAndDestroy();
    peerOf(peers, b.stream).resetAndDestroy();
    a.stream.writeLatin1('held');
    a.stream.close();
    b.stream.writeLatin1('held');
    b.stream.reset();
    assert.deepEqual([a.owner.errors, b.owner.errors], [[], []]);
    await Promise.all([a.owner.closed.promise, b.owner.closed.promise]);
    assert.deepEqual([a.owner.errors, b.owner.errors], [[], []]);
  } finally {
    server.close();
  }
});

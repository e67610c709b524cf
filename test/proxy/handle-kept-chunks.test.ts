// The handles engine's reads for an owner that keeps its chunks (an http head or request body
// waiting for its member, handle-stream.ts): after a read that filled the read buffer, each
// small read must not pin a 64 KiB buffer of its own for its few bytes, and no kept chunk may be
// overwritten by a later read.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import { loadHandleEngine } from '../../src/proxy/handle-engine.ts';
import type { Stream, StreamOwner } from '../../src/proxy/stream.ts';
import { until } from '../helpers/wait.ts';

const READ_SIZE = 64 * 1024;

it('handles: small reads kept after a full one are intact and pin about their own size', { timeout: 30_000 }, async () => {
  let peer!: net.Socket;
  const server = net.createServer((s) => {
    peer = s;
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const kept: Buffer[] = [];
  let received = 0;
  const connected = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  const owner: StreamOwner = {
    streamData: (_s: Stream, chunk: Buffer) => {
      kept.push(chunk);
      received += chunk.length;
      return true;
    },
    streamEnd: () => {},
    streamDrained: () => {},
    streamConnected: () => connected.resolve(),
    streamError: () => {},
    streamClosed: () => closed.resolve(),
  };
  const stream = loadHandleEngine().connect('127.0.0.1', (server.address() as net.AddressInfo).port, owner, true);
  try {
    await connected.promise;
    await until(() => peer !== undefined);
    peer.setNoDelay(true);
    // one full read first (all of it is in our receive buffer before reading starts) ...
    const sent: Buffer[] = [Buffer.alloc(READ_SIZE, 0x61)];
    await new Promise<void>((resolve) => peer.write(sent[0], () => resolve()));
    stream.resume();
    await until(() => received === READ_SIZE);
    // ... then small reads, each its own read
    for (let i = 0; i < 200; i++) {
      const piece = Buffer.from(`<${String(i).padStart(4, '0')}>`);
      sent.push(piece);
      peer.write(piece);
      const want = received + piece.length;
      await until(() => received === want);
    }
    assert.deepEqual(Buffer.concat(kept), Buffer.concat(sent), 'every kept byte as sent');
    const pinned = new Set(kept.map((c) => c.buffer));
    let bytes = 0;
    for (const ab of pinned) bytes += ab.byteLength;
    assert.ok(bytes <= 2 * received, `kept chunks pin ${bytes} bytes for ${received} received`);
  } finally {
    stream.close();
    await closed.promise;
    peer?.destroy();
    server.close();
  }
});

// Which memory the handles engine's next read lands in (handle-stream.ts), once a stream moves
// bulk: the same buffer again when nothing holds the last chunk (no 64 KiB buffer, and no work
// for the garbage collector, per read or per http response), another one when something may
// (the owner keeps it, or paused meanwhile: a write of it waits), and with readAhead() a
// second buffer while the write of the first waits, both reused after release().

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import { loadHandleEngine } from '../../src/proxy/handle-engine.ts';
import type { Stream, StreamOwner } from '../../src/proxy/stream.ts';
import { until } from '../helpers/wait.ts';

/** The shared buffer's size: a read that fills it makes a stream bulk. */
const READ_SIZE = 64 * 1024;
/** A bulk stream's own read buffers (handle-stream.ts BULK_SIZE). */
const BULK_SIZE = 128 * 1024;
/** One loopback segment, so one read; large enough (BULK_SIZE / 8) that an owner that keeps chunks gets it uncopied. */
const PIECE = 32 * 1024;

interface Read {
  chunk: Buffer;
  /** its bytes as they were when it was handed over */
  copy: Buffer;
}

/**
 * A stream connected to a peer on loopback, already moving bulk (read 0 filled the read buffer).
 * `onData` acts for the owner on each later read (`i`: its index in `reads`) and says what
 * streamData returns.
 */
async function bulkStream(onData: (stream: Stream, n: number) => boolean) {
  let peer: net.Socket | undefined;
  const server = net.createServer((s) => {
    peer = s;
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const reads: Read[] = [];
  let arrived = Promise.withResolvers<void>();
  const connected = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  const owner: StreamOwner = {
    streamData: (s: Stream, chunk: Buffer) => {
      reads.push({ chunk, copy: Buffer.from(chunk) });
      const more = reads.length === 1 ? true : onData(s, reads.length - 1);
      arrived.resolve();
      return more;
    },
    streamEnd: () => {},
    streamDrained: () => {},
    streamConnected: () => connected.resolve(),
    streamError: () => {},
    streamClosed: () => closed.resolve(),
  };
  const stream = loadHandleEngine().connect('127.0.0.1', (server.address() as net.AddressInfo).port, owner);
  await connected.promise;
  await until(() => peer !== undefined);
  const socket = peer!;
  socket.setNoDelay(true);
  /** The peer sends `size` bytes of `fill`; `read`: and the stream reads them (false: it is paused, wait for nothing). */
  const send = async (size: number, fill: number, read = true): Promise<void> => {
    arrived = Promise.withResolvers<void>();
    await new Promise<void>((resolve) => socket.write(Buffer.alloc(size, fill), () => resolve()));
    if (read) await arrived.promise;
  };
  // the first full read (all of it in our receive buffer before reading starts) makes the stream bulk
  await send(READ_SIZE, 0x30, false);
  stream.resume();
  await arrived.promise;
  assert.equal(reads[0].chunk.length, READ_SIZE);
  return {
    stream,
    reads,
    send,
    /** While reading stops, the peer sends `size` bytes of `fill`; then the stream reads them all: the reads that took them, each checked. */
    async sendWhilePaused(size: number, fill: number): Promise<Read[]> {
      stream.pause();
      const before = reads.length;
      await send(size, fill, false);
      stream.resume();
      await until(() => reads.slice(before).reduce((n, r) => n + r.chunk.length, 0) === size);
      const later = reads.slice(before);
      assert.ok(later.every((r) => r.copy.every((b) => b === fill)), 'every byte as sent');
      return later;
    },
    /** the bytes of read i are still those it was handed over with */
    intact: (i: number) => assert.ok(reads[i].chunk.equals(reads[i].copy), `read ${i} was overwritten`),
    async close() {
      stream.close();
      await closed.promise;
      socket.destroy();
      server.close();
    },
  };
}

it('handles: a chunk nothing holds is read into again, also when the owner raises keepsChunks for the chunks that follow', { timeout: 10_000 }, async () => {
  const s = await bulkStream((stream, i) => {
    // an http member connection given back after its response's last bytes: the next head will be kept
    if (i === 2) stream.keepsChunks = true;
    return true;
  });
  try {
    await s.send(PIECE, 0x61);
    await s.send(PIECE, 0x62);
    await s.send(PIECE, 0x63);
    assert.equal(s.reads[2].chunk.buffer, s.reads[1].chunk.buffer, 'read 2 lands where read 1 did');
    assert.equal(s.reads[3].chunk.buffer, s.reads[2].chunk.buffer, 'read 3 lands where read 2 did');
    // read 3 was handed over kept: the next one goes elsewhere
    await s.send(PIECE, 0x64);
    assert.notEqual(s.reads[4].chunk.buffer, s.reads[3].chunk.buffer);
    s.intact(3);
  } finally {
    await s.close();
  }
});

it('handles: a head read whole (keepsChunks lowered during streamData) is read into again', { timeout: 10_000 }, async () => {
  const s = await bulkStream((stream, i) => {
    if (i === 2) stream.keepsChunks = false;
    return true;
  });
  try {
    await s.send(PIECE, 0x61);
    s.stream.keepsChunks = true; // an exchange takes the connection: its response head may come in pieces
    await s.send(PIECE, 0x62);
    await s.send(PIECE, 0x63);
    assert.equal(s.reads[2].chunk.buffer, s.reads[1].chunk.buffer);
    assert.equal(s.reads[3].chunk.buffer, s.reads[2].chunk.buffer);
  } finally {
    await s.close();
  }
});

it('handles: a chunk whose owner paused during streamData, though it resumed at once, is never read into again', { timeout: 10_000 }, async () => {
  const s = await bulkStream((stream, i) => {
    // a write of it waits (paused), then the member connection goes idle and reads on (resumed)
    if (i === 2) {
      stream.pause();
      stream.resume();
    }
    return true;
  });
  try {
    await s.send(PIECE, 0x61);
    await s.send(PIECE, 0x62);
    await s.send(PIECE, 0x63);
    assert.notEqual(s.reads[3].chunk.buffer, s.reads[2].chunk.buffer);
    s.intact(2);
    s.intact(3);
  } finally {
    await s.close();
  }
});

it('handles: reading ahead goes on into a second buffer while the first is held, then both are reused after release()', { timeout: 10_000 }, async () => {
  const answers: boolean[] = [];
  const s = await bulkStream((stream, i) => {
    // reads 2 and 3: their writes wait (read ahead once, then pause)
    if (i === 2 || i === 3) {
      const ahead = stream.readAhead!();
      answers.push(ahead);
      return ahead;
    }
    return true;
  });
  try {
    await s.send(PIECE, 0x61);
    await s.send(PIECE, 0x62);
    await s.send(PIECE, 0x63);
    assert.deepEqual(answers, [true, false], 'one read ahead, then a pause');
    const [b1, b2, b3] = [s.reads[1].chunk.buffer, s.reads[2].chunk.buffer, s.reads[3].chunk.buffer];
    assert.equal(b2, b1);
    assert.notEqual(b3, b2, 'read 3 goes to the second buffer');
    // paused: nothing is read until the writes are done
    await s.send(PIECE, 0x64, false);
    s.intact(2);
    s.intact(3);
    s.stream.release!();
    s.stream.resume();
    await until(() => s.reads.length === 5);
    assert.ok(s.reads[4].chunk.buffer === b2 || s.reads[4].chunk.buffer === b3, 'read 4 reuses one of the two buffers');
  } finally {
    await s.close();
  }
});

it('handles: resumed with both buffers held and no release(), the next read goes to a new buffer', { timeout: 10_000 }, async () => {
  const s = await bulkStream((stream, i) => (i === 2 || i === 3 ? stream.readAhead!() : true));
  try {
    await s.send(PIECE, 0x61);
    await s.send(PIECE, 0x62);
    await s.send(PIECE, 0x63);
    s.stream.resume();
    await s.send(PIECE, 0x64);
    const held = [s.reads[2].chunk.buffer, s.reads[3].chunk.buffer];
    assert.notEqual(held[0], held[1]);
    assert.ok(!held.includes(s.reads[4].chunk.buffer), 'read 4 lands in neither held buffer');
    s.intact(2);
    s.intact(3);
  } finally {
    await s.close();
  }
});

it('handles: a buffer the last write of a connection gone idle still holds is not read into once the next owner says release()', { timeout: 10_000 }, async () => {
  const s = await bulkStream((stream, i) => {
    // read 2: the last bytes of a response; their write waits (read ahead), and the exchange is
    // over: the member connection goes idle (keepsChunks raised), that write still waiting
    if (i === 2) {
      assert.equal(stream.readAhead!(), true);
      stream.keepsChunks = true;
    }
    // read 3: the next exchange's response head, read whole
    if (i === 3) stream.keepsChunks = false;
    if (i < 4) return true;
    // reads 4 on: every write to the next client waits; when reading pauses, that client drains
    // soon after (release(), its own writes done: not the first client's)
    const ahead = stream.readAhead!();
    if (!ahead) {
      queueMicrotask(() => {
        stream.release!();
        stream.resume();
      });
    }
    return ahead;
  });
  try {
    for (let fill = 0x61; fill <= 0x68; fill++) await s.send(PIECE, fill);
    const held = s.reads[2].chunk.buffer;
    assert.ok(s.reads.slice(3).every((r) => r.chunk.buffer !== held), 'no later read lands where read 2 did');
    s.intact(2);
  } finally {
    await s.close();
  }
});

it('handles: a small read copied out for an owner that lowers keepsChunks and reads ahead during it leaves the next read where it is looked for', { timeout: 10_000 }, async () => {
  const s = await bulkStream((stream, i) => {
    // read 2: a small response head with body bytes, copied (the owner kept chunks as it came);
    // the head read whole, the owner writes the body on and its write waits: it reads ahead
    if (i === 2) {
      stream.keepsChunks = false;
      return stream.readAhead!();
    }
    return true;
  });
  try {
    await s.send(PIECE, 0x61);
    s.stream.keepsChunks = true;
    await s.send(1000, 0x62);
    await s.send(PIECE, 0x63);
    assert.equal(s.reads[2].chunk.length, 1000);
    assert.ok(s.reads[3].copy.every((b) => b === 0x63), 'read 3 holds the bytes the peer sent');
  } finally {
    await s.close();
  }
});

it('handles: a stream that moves bulk reads into buffers of its own twice the shared one, as much at once as has come', { timeout: 10_000 }, async () => {
  const s = await bulkStream(() => true);
  try {
    assert.equal(s.reads[0].chunk.buffer.byteLength, READ_SIZE, 'read 0: the shared buffer, copied out');
    await s.send(PIECE, 0x61);
    assert.equal(s.reads[1].chunk.buffer.byteLength, BULK_SIZE, "read 1: the stream's own bulk buffer");
    // what comes while reading stops is taken in reads larger than the shared buffer could hold
    const later = await s.sendWhilePaused(3 * READ_SIZE, 0x62);
    assert.ok(later.every((r) => r.chunk.buffer.byteLength === BULK_SIZE));
    assert.ok(later.some((r) => r.chunk.length > READ_SIZE), `reads of ${later.map((r) => r.chunk.length).join(', ')} bytes`);
  } finally {
    await s.close();
  }
});

it('handles: an owner that keeps its chunks gets a shared-size buffer per read; a read that fills one once it stops keeping them moves the stream to a bulk one', { timeout: 10_000 }, async () => {
  const s = await bulkStream(() => true);
  try {
    // an http exchange waiting for its response head in pieces behind a client whose writes do not say when they are done
    s.stream.keepsChunks = true;
    await s.send(PIECE, 0x61); // lands in the bulk buffer, kept: the next read goes elsewhere
    await s.send(PIECE, 0x62);
    await s.send(PIECE, 0x63);
    assert.equal(s.reads[2].chunk.buffer.byteLength, READ_SIZE, 'a kept read pins a buffer of the shared size, not a bulk one');
    assert.equal(s.reads[3].chunk.buffer.byteLength, READ_SIZE);
    assert.notEqual(s.reads[3].chunk.buffer, s.reads[2].chunk.buffer);
    // the body, written on as it comes: a read that fills that buffer moves the stream to a bulk one
    s.stream.keepsChunks = false;
    const later = await s.sendWhilePaused(3 * READ_SIZE, 0x64);
    assert.equal(later[0].chunk.length, READ_SIZE, 'the first read fills the buffer left by the kept reads');
    assert.equal(later.at(-1)!.chunk.buffer.byteLength, BULK_SIZE, `reads of ${later.map((r) => r.chunk.length).join(', ')} bytes`);
    for (let i = 1; i <= 3; i++) s.intact(i);
  } finally {
    await s.close();
  }
});

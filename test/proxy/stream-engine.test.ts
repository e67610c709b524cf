// Which stream engine the tcp plane runs on, and the handles engine's own edges.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { handleEngine } from '../../src/proxy/handle-stream.ts';
import { streamEngine } from '../../src/proxy/stream-engine.ts';
import type { StreamOwner } from '../../src/proxy/stream.ts';

describe('stream engine choice', () => {
  it('runs on Node 24\'s stream handles by default, and on net.Socket when asked', () => {
    assert.notEqual(handleEngine, null, 'this Node has the TCP stream handles');
    assert.equal(streamEngine(undefined).name, 'handles');
    assert.equal(streamEngine('auto').name, 'handles');
    assert.equal(streamEngine('handles').name, 'handles');
    assert.equal(streamEngine('sockets').name, 'sockets');
  });

  it('refuses an unknown engine by name', () => {
    assert.throws(() => streamEngine('epoll'), /FURIWAKE_TCP_ENGINE: expected auto, handles or sockets, got "epoll"/);
  });

  for (const name of ['handles', 'sockets']) {
    it(`${name}: a taken address is an error naming EADDRINUSE, and nothing stays open`, async () => {
      const engine = streamEngine(name);
      const first = await engine.listen('127.0.0.1', 0, 16, () => {}, () => {});
      const { port } = first.address();
      await assert.rejects(engine.listen('127.0.0.1', port, 16, () => {}, () => {}), /EADDRINUSE/);
      first.close();
    });
  }
});

/** An owner that records what its stream tells it. */
function recorder(): StreamOwner & { events: string[]; closed: Promise<void>; connected: Promise<void> } {
  const events: string[] = [];
  let closed!: () => void;
  let connected!: () => void;
  return {
    events,
    closed: new Promise<void>((resolve) => (closed = resolve)),
    connected: new Promise<void>((resolve) => (connected = resolve)),
    streamData: () => true,
    streamEnd: () => void events.push('end'),
    streamDrained: () => void events.push('drained'),
    streamConnected: () => {
      events.push('connected');
      connected();
    },
    streamError: (_s, code) => void events.push(`error ${code}`),
    streamClosed: () => {
      events.push('closed');
      closed();
    },
  };
}

describe('stream engines: backpressure', () => {
  for (const name of ['handles', 'sockets']) {
    it(`${name}: a write that says "stop" is always followed by streamDrained`, { timeout: 10_000 }, async () => {
      let peer!: net.Socket;
      const server = net.createServer((s) => {
        peer = s;
        s.on('error', () => {});
        s.pause(); // reads nothing until the writer has been told to stop
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      let drained!: () => void;
      const owner = { ...recorder(), streamDrained: () => drained() };
      const stream = streamEngine(name).connect('127.0.0.1', (server.address() as net.AddressInfo).port, owner);
      await owner.connected;
      // small writes until one is not taken: the kernel's buffers fill first
      const chunk = Buffer.alloc(100, 'x');
      let written = 0;
      while (stream.write(chunk)) written += chunk.length;
      assert.ok(written > 0);
      const done = new Promise<void>((resolve) => (drained = resolve));
      peer.resume();
      await done;
      stream.close();
      await owner.closed;
      server.close();
    });
  }
});

describe('stream engines: closing', () => {
  for (const name of ['handles', 'sockets']) {
    it(`${name}: a reset asked while our FIN is still pending closes the stream (plainly)`, { timeout: 5_000 }, async () => {
      const server = net.createServer((s) => {
        s.on('error', () => {});
        s.resume();
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const owner = recorder();
      const stream = streamEngine(name).connect('127.0.0.1', (server.address() as net.AddressInfo).port, owner);
      await owner.connected;
      stream.end(); // libuv runs the shutdown on a later turn of the loop
      stream.reset(); // refused by libuv during a shutdown: must still close
      await owner.closed;
      assert.deepEqual(owner.events, ['connected', 'closed']);
      server.close();
    });
  }
});

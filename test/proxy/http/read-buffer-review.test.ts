// Bytes written on to a slow client are never overwritten by the member's next read while the
// write still holds them (the review of lent reads, reused bulk buffers and read-ahead): here,
// the bytes that come with a 101 head, on a member connection that already moved bulk (its reads
// land in a buffer of its own, read into again once a chunk is written on), to a slow client.
// Every byte is compared with what the member sent. (Whether the write of those bytes waits
// depends on how much room the kernel has left after the response before: on loopback it had
// room in every run seen, so this guards the bytes, not that moment; handle-read-buffers.test.ts
// holds the stream's own cases.)

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { startTcpServer } from '../../helpers/servers.ts';
import { httpConfig } from './helpers.ts';

/** Byte i of stream n: a period (251) that no buffer size divides, shifted per stream. */
function expected(n: number, i: number): number {
  return (i + n * 17) % 251;
}

function pattern(n: number, from: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = expected(n, from + i);
  return out;
}

/** Writes `size` bytes of stream n from `from` in 64 KiB writes, waiting for drain; then `done`. */
function send(socket: net.Socket, n: number, from: number, size: number, done: () => void): void {
  let at = from;
  const end = from + size;
  const more = (): void => {
    while (at < end) {
      const len = Math.min(64 * 1024, end - at);
      const part = pattern(n, at, len);
      at += len;
      if (!socket.write(part)) return void socket.once('drain', more);
    }
    done();
  };
  more();
}

const TUNNEL_REST = 60 * 1024;

/**
 * A raw member: `GET /N/SIZE` gets SIZE bytes of stream N (Content-Length); a request with an
 * Upgrade gets a 101 with TUNNEL_REST bytes of stream N in the same write, then SIZE more, then the close.
 */
async function rawMember() {
  return startTcpServer('raw', (socket) => {
    let pending = '';
    socket.on('data', (c: Buffer) => {
      pending += c.toString('latin1');
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        const [, n, size] = head.split(' ')[1].split('/').map(Number);
        if (/\r\nupgrade:/i.test(head)) {
          const h = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n', 'latin1');
          socket.write(Buffer.concat([h, pattern(n, 0, TUNNEL_REST)]));
          send(socket, n, TUNNEL_REST, size, () => socket.end());
        } else {
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
          send(socket, n, 0, size, () => {});
        }
      }
    });
  });
}

/** Reads responses slowly (a pause after each read), checking each body against its stream. */
class SlowReader {
  readonly socket: net.Socket;
  #buf = '';
  #bodies: { n: number; size: number; status: string }[];
  #at = -1;
  bad = '';
  heads: string[] = [];
  readonly done: Promise<void>;

  constructor(socket: net.Socket, bodies: { n: number; size: number; status: string }[], delay: number) {
    this.socket = socket;
    this.#bodies = bodies;
    this.done = once(socket, 'close').then(() => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.#take(chunk);
      socket.pause();
      setTimeout(() => socket.resume(), delay);
    });
  }

  #take(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      const body = this.#bodies[0];
      if (body === undefined) {
        this.bad ||= `${chunk.length - i} bytes after the last response`;
        return;
      }
      if (this.#at === -1) {
        this.#buf += chunk.toString('latin1', i, i + 1);
        i++;
        if (this.#buf.endsWith('\r\n\r\n')) {
          this.heads.push(this.#buf);
          if (!this.#buf.startsWith(`HTTP/1.1 ${body.status} `)) this.bad ||= `head ${JSON.stringify(this.#buf)}`;
          this.#buf = '';
          this.#at = 0;
        }
        continue;
      }
      const take = Math.min(chunk.length - i, body.size - this.#at);
      for (let k = 0; k < take; k++) {
        if (chunk[i + k] !== expected(body.n, this.#at + k)) {
          this.bad ||= `stream ${body.n}: byte ${this.#at + k} is not what the member sent`;
          break;
        }
      }
      i += take;
      this.#at += take;
      if (this.#at === body.size) {
        this.#bodies.shift();
        this.#at = -1;
      }
    }
  }

  get left(): number {
    return this.#bodies.length;
  }
}

describeOnEachEngine('read buffers under review', () => {
  it('keeps the bytes that came with a 101 head until a slow client takes them', async () => {
    const m = await rawMember();
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { memberKeepAlive: { maxIdle: 1, idleTimeout: 30_000 } }));
    const port = app.address('svc').port;
    for (let round = 0; round < 3; round++) {
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const n = round * 2 + 1;
      // a bulk response first (the member connection moves bulk), then an upgrade on the same member connection
      const bodies = [{ n, size: 4 * 1024 * 1024, status: '200' }, { n: n + 1, size: TUNNEL_REST + 2 * 1024 * 1024, status: '101' }];
      const reader = new SlowReader(socket, bodies, 2);
      socket.write(`GET /${n}/${bodies[0].size} HTTP/1.1\r\nhost: x\r\n\r\nGET /${n + 1}/${2 * 1024 * 1024} HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: test\r\n\r\n`);
      await reader.done;
      assert.equal(reader.bad, '', `round ${round}`);
      assert.equal(reader.left, 0, `round ${round}: responses left unread`);
    }
    assert.equal(m.accepted, 3, 'each upgrade took the member connection of the response before it');
  });
});

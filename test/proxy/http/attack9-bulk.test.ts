// Attacks on the reused read buffers (handle-stream.ts: a bulk buffer read into again once its
// chunk is written on, readAhead/release) from the http side: one client pipelines requests for
// large bodies, by Content-Length and chunked, and reads them slowly, so that writes to it wait
// while the member connection it gives back is taken by a second client; and an HTTP/1.0 client
// whose chunked bodies are dechunked. Every byte of every body must be the member's.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { httpConfig, startMember } from './helpers.ts';

/** Byte i of body n: a period no buffer size divides, shifted per body. */
function byteOf(n: number, i: number): number {
  return (i * 7 + n * 31) % 253;
}

/** GET /n/size/{length|chunked}: size bytes of body n, in 48 KiB writes (chunked: without a Content-Length). */
async function patternMember() {
  return startMember('pattern', (req, res) => {
    const [, n, size, framing] = req.url!.split('/');
    const all = Buffer.allocUnsafe(Number(size));
    for (let i = 0; i < all.length; i++) all[i] = byteOf(Number(n), i);
    if (framing === 'length') res.setHeader('content-length', size);
    let at = 0;
    const more = (): void => {
      while (at < all.length) {
        if (!res.write(all.subarray(at, (at += 48 * 1024)))) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
}

/** Reads responses from `socket` (Content-Length or chunked bodies, or to the close), checking each body byte. */
/**
 * `gate`, when given, is waited for after each read: the client reads in steps, so the path to it
 * fills and furiwake's writes to it wait.
 */
function reader(socket: net.Socket, expectBodies: { n: number; size: number }[], gate?: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let k = 0;
    let state: 'head' | 'length' | 'chunk-size' | 'chunk' | 'chunk-end' | 'close' = 'head';
    let left = 0;
    let at = 0;
    const fail = (why: string): void => {
      socket.destroy();
      reject(new Error(`response ${k}: ${why}`));
    };
    const take = (part: Buffer): boolean => {
      const { n } = expectBodies[k];
      for (let i = 0; i < part.length; i++, at++) if (part[i] !== byteOf(n, at)) return fail(`byte ${at} is ${part[i]}, not ${byteOf(n, at)}`), false;
      return true;
    };
    const next = (): void => {
      if (at !== expectBodies[k].size) return fail(`${at} bytes, not ${expectBodies[k].size}`);
      k++;
      at = 0;
      state = 'head';
      if (k === expectBodies.length) {
        socket.end();
        resolve();
      }
    };
    const step = (): void => {
      for (;;) {
        if (state === 'head') {
          const end = buf.indexOf('\r\n\r\n');
          if (end === -1) return;
          const head = buf.toString('latin1', 0, end);
          buf = buf.subarray(end + 4);
          if (!/^HTTP\/1\.1 200 /.test(head)) return fail(`head ${head}`);
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          if (length !== null) {
            state = 'length';
            left = Number(length[1]);
          } else state = /\r\ntransfer-encoding: *chunked/i.test(head) ? 'chunk-size' : 'close';
        } else if (state === 'length' || state === 'chunk' || state === 'close') {
          const n = state === 'close' ? buf.length : Math.min(left, buf.length);
          if (!take(buf.subarray(0, n))) return;
          buf = buf.subarray(n);
          left -= n;
          if (state === 'close') return;
          if (left > 0) return;
          if (state === 'length') next();
          else state = 'chunk-end';
        } else if (state === 'chunk-end') {
          if (buf.length < 2) return;
          buf = buf.subarray(2);
          state = 'chunk-size';
        } else {
          const eol = buf.indexOf('\r\n');
          if (eol === -1) return;
          left = parseInt(buf.toString('latin1', 0, eol), 16);
          buf = buf.subarray(eol + 2);
          if (left === 0) {
            if (buf.length < 2) return void (buf = Buffer.concat([Buffer.from('0\r\n'), buf]), state = 'chunk-size');
            buf = buf.subarray(2);
            next();
            if (k === expectBodies.length) return;
          } else state = 'chunk';
        }
        if (k === expectBodies.length) return;
      }
    };
    socket.on('data', (c: Buffer) => {
      buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
      step();
      if (gate !== undefined && !socket.destroyed) {
        socket.pause();
        void gate().then(() => socket.resume());
      }
    });
    socket.on('end', () => {
      if (state === 'close') next();
      if (k < expectBodies.length) reject(new Error(`ended at response ${k}, byte ${at}`));
    });
    socket.on('error', reject);
  });
}

describeOnEachEngine('bulk bodies through reused read buffers', () => {
  it('pipelined large bodies to a slow client, the member connection taken by another client in between: every byte as sent', async () => {
    const m = await patternMember();
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }]), { memberKeepAlive: { maxIdle: 1, idleTimeout: 5_000 } }));
    const port = app.address('svc').port;
    const wanted: { n: number; size: number; framing: string }[] = [];
    for (let n = 0; n < 8; n++) wanted.push({ n, size: 300_000 + n * 4_099, framing: n % 2 === 0 ? 'length' : 'chunked' });
    // another client, quick, taking the member connection whenever it is idle; the slow one reads a step each time it reads
    const fast = net.connect(port, '127.0.0.1');
    await once(fast, 'connect');
    let fastOver = false;
    const fastStep = (): Promise<void> => (fastOver ? Promise.resolve() : once(fast, 'data').then(() => {}, () => {}));
    const slow = net.connect(port, '127.0.0.1');
    await once(slow, 'connect');
    const slowDone = reader(slow, wanted, fastStep);
    slow.write(wanted.map((w) => `GET /${w.n}/${w.size}/${w.framing} HTTP/1.1\r\nHost: h\r\n\r\n`).join(''));
    const fastWanted = [...wanted, ...wanted, ...wanted].map((w, i) => ({ ...w, n: w.n + 100 + i }));
    const fastDone = reader(fast, fastWanted).finally(() => {
      fastOver = true;
      fast.emit('data', Buffer.alloc(0));
    });
    for (const w of fastWanted) fast.write(`GET /${w.n}/${w.size}/${w.framing} HTTP/1.1\r\nHost: h\r\n\r\n`);
    await Promise.all([slowDone, fastDone]);
  });

  it('an HTTP/1.0 client gets chunked bodies dechunked, to the close, every byte as sent', async () => {
    const m = await patternMember();
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const port = app.address('svc').port;
    for (const n of [1, 2]) {
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const done = reader(socket, [{ n, size: 700_001 }], n === 2 ? () => new Promise((resolve) => setImmediate(resolve)) : undefined);
      socket.write(`GET /${n}/700001/chunked HTTP/1.0\r\nHost: h\r\n\r\n`);
      await done;
    }
  });
});

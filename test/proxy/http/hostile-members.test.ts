// Members that answer badly, on purpose or by a bug: furiwake reads what a member sends as
// strictly as what a client sends. A member flooding interim (1xx) responses is cut off with a 502.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { httpConfig, raw } from './helpers.ts';

/** A member that answers each request head it reads with `answer(path)`'s bytes, then half-closes or resets. */
async function rawMember(answer: (path: string) => { bytes: Buffer; reset: boolean }): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (head === null) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const path = /^\S+ (\S+)/.exec(head)?.[1] ?? '/';
      head = null as unknown as string;
      const { bytes, reset } = answer(path);
      if (reset) socket.write(bytes, () => socket.resetAndDestroy());
      else socket.end(bytes);
    });
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as net.AddressInfo).port;
}

describe('a member flooding interim responses', () => {
  it('gets a 502 once its 1xx heads pass 64 KiB together; fewer are passed on', async () => {
    const flood = 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(5_000); // 125 KB
    const port = await rawMember((path) => ({
      bytes: Buffer.from(path === '/few'
        ? 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'
        : `${flood}HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok`, 'latin1'),
      reset: false,
    }));
    const app = await startApp(httpConfig(pool('round-robin', [{ port }])));
    const svc = app.address('svc').port;
    const got = await raw(svc, 'GET /flood HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const finals = [...got.text.matchAll(/HTTP\/1\.1 ([2-5]\d\d) /g)].map((m) => Number(m[1]));
    assert.deepEqual(finals, [502]);
    assert.match(got.text, /interim \(1xx\) responses from the member larger than 65536 bytes/);
    // (before: all 5,000 were passed on, with no bound, to a client that might not read them)
    assert.ok(got.text.split('100 Continue').length - 1 < 64 * 1024 / 25);
    // a member sending a few is served as before
    const few = await raw(svc, 'GET /few HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(few.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 103 Early Hints\r\nlink: <\/a\.css>\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  });
});

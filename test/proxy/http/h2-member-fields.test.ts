// A member's response head as an HTTP/2 client gets it: a field that should be single but comes
// twice (two Content-Type) is passed on as over HTTP/1.1, not a reset stream (node's http2 throws
// on it unless told otherwise).

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pool } from '../../helpers/config.ts';
import { startTcpServer } from '../../helpers/servers.ts';
import { h2Connect, h2Request, h2cService } from './h2-helpers.ts';

/** A member that answers every request with `response` (raw bytes) on a kept connection. */
async function rawMember(response: string): Promise<number> {
  return (await startTcpServer('raw', (socket) => socket.on('data', () => socket.write(response)))).port;
}

describe('HTTP/2 responses from members with odd heads', () => {
  it('passes a repeated single-value field (two Content-Type) and the body, and the connection goes on', async () => {
    const member = await rawMember('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok');
    const { port } = await h2cService(pool('round-robin', [{ port: member }]));
    const session = h2Connect(port, false);
    after(() => session.close());
    for (let i = 0; i < 2; i++) {
      const res = await h2Request(session, { ':path': `/${i}` });
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'ok');
      assert.equal(res.headers['content-type'], 'text/plain');
      assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    }
  });
});

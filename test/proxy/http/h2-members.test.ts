// HTTP/2 to members (pool member-protocol h2c and h2): requests from HTTP/1.1 and HTTP/2 clients
// go as streams on a few shared sessions per member, balanced per request, with the
// connection-specific fields dropped, Host as :authority, forwarded fields, bodies and trailers
// both ways.

import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { pool } from '../../helpers/config.ts';
import { h2Connect, h2Request, h2cService } from './h2-helpers.ts';
import { startH2Member } from './h2-members-helpers.ts';

function get(port: number, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP/2 to members', () => {
  it('sends an HTTP/1.1 request to an h2c member as a stream', async () => {
    const m = await startH2Member('a');
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }));
    const res = await get(port, '/x?y=1', { 'x-hello': 'there', connection: 'keep-alive, x-hop', 'x-hop': '1' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'a GET /x?y=1 ');
    assert.equal(res.headers['x-member'], 'a');
    const seen = m.requests[0];
    assert.equal(seen[':authority'], `127.0.0.1:${port}`);
    assert.equal(seen[':scheme'], 'http');
    assert.equal(seen['x-hello'], 'there');
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-hop'], undefined);
    assert.equal(seen.connection, undefined);
  });

  it('sends an HTTP/2 client stream to an h2c member', async () => {
    const m = await startH2Member('a');
    const { port } = await h2cService(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }));
    const session = h2Connect(port, false);
    const res = await h2Request(session, { ':method': 'POST', ':path': '/p' }, 'body!');
    session.close();
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'a POST /p body!');
  });
});

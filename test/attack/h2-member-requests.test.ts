// Requests a client shapes to upset an HTTP/2 member pool: fields HTTP/1.1 allows but node's
// http2 refuses by default (a single-value field such as User-Agent repeated). Such a request is
// the client's, not a failing member's: it is passed on as over HTTP/1.1, never a 502 (which
// counted against the member would let any client take members out of the pool).

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pool } from '../helpers/config.ts';
import { h2cService } from '../proxy/http/h2-helpers.ts';
import { raw } from '../proxy/http/helpers.ts';
import { startH2Member } from '../proxy/http/h2-members-helpers.ts';
import { RawH2, headers } from './h2-raw.ts';

it('passes repeated single-value fields (User-Agent, Content-Type, Authorization) from HTTP/1.1 and HTTP/2 clients to an h2c member', async () => {
  const member = await startH2Member('m', (stream, h) => {
    stream.respond({ ':status': 200 });
    stream.end(JSON.stringify(h['user-agent'] ?? h['content-type'] ?? h.authorization ?? null));
  });
  const { port } = await h2cService(pool('round-robin', [{ port: member.port }], {}, { memberProtocol: 'h2c' }));
  for (const name of ['User-Agent', 'Content-Type', 'Authorization']) {
    const r = await raw(port, `GET /x HTTP/1.1\r\nHost: a.test\r\n${name}: one\r\n${name}: two\r\nConnection: close\r\n\r\n`);
    assert.match(r.text, /^HTTP\/1\.1 200 /, r.text);
    assert.match(r.text, /"one/);
  }
  const h2 = await RawH2.open(port);
  h2.write(headers(1, [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'a.test'], ['user-agent', 'one'], ['user-agent', 'two']], true));
  assert.equal((await h2.result(1)).status, 200);
  h2.close();
  assert.equal(member.requests.length, 4);
});

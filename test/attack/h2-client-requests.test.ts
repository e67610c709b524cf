// Malformed HTTP/2 requests from a client, header blocks built by hand (h2-raw.ts) against a real
// furiwake with an h2c service: each is reset or answered 4xx, never reaches the member, and the
// service goes on serving.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pool } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';
import { h2cService } from '../proxy/http/h2-helpers.ts';
import { startMember } from '../proxy/http/helpers.ts';
import { data, frame, headers, RawH2 } from './h2-raw.ts';

type Fields = [string, string][];
const GET: Fields = [[':method', 'GET'], [':scheme', 'http'], [':path', '/ok'], [':authority', 'a.test']];
const POST: Fields = [[':method', 'POST'], [':scheme', 'http'], [':path', '/'], [':authority', 'a.test']];

/** name: the header block, then DATA and trailers when given */
const REFUSED: Record<string, { fields: Fields; body?: string; trailers?: Fields }> = {
  'an uppercase name': { fields: [...GET, ['X-Up', '1']] },
  'a connection-specific field': { fields: [...GET, ['connection', 'keep-alive']] },
  'TE other than trailers': { fields: [...GET, ['te', 'gzip']] },
  ':path twice': { fields: [...GET, [':path', '/evil']] },
  'no :path': { fields: [[':method', 'GET'], [':scheme', 'http'], [':authority', 'a.test']] },
  ':path * on a GET': { fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '*'], [':authority', 'a.test']] },
  'an absolute :path': { fields: [[':method', 'GET'], [':scheme', 'http'], [':path', 'http://evil.test/x'], [':authority', 'a.test']] },
  'a space in :path': { fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/a b'], [':authority', 'a.test']] },
  'a fragment in :path': { fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/a#b'], [':authority', 'a.test']] },
  'userinfo in :authority': { fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'u@a.test']] },
  'a 12 KB :authority': { fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'a'.repeat(12000)]] },
  'neither :authority nor Host': { fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/']] },
  CONNECT: { fields: [[':method', 'CONNECT'], [':authority', 'a.test:443']] },
  'extended CONNECT (:protocol)': { fields: [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'http'], [':path', '/'], [':authority', 'a.test']] },
  'a method with a space': { fields: [[':method', 'G T'], [':scheme', 'http'], [':path', '/'], [':authority', 'a.test']] },
  'content-length above the DATA': { fields: [...POST, ['content-length', '10']], body: 'hi', trailers: [] },
  'two content-lengths': { fields: [...POST, ['content-length', '2'], ['content-length', '3']], body: 'hi' },
  'a pseudo-header as a trailer': { fields: POST, body: 'hi', trailers: [[':path', '/x']] },
  'content-length as a trailer': { fields: POST, body: 'hi', trailers: [['content-length', '99'], ['x-t', 'v']] },
};

it('resets or answers 4xx each malformed request; none reaches the member, and the next request is served', async () => {
  const member = await startMember('web');
  const { port } = await h2cService(pool('round-robin', [{ port: member.port }]));
  for (const [name, c] of Object.entries(REFUSED)) {
    const h2 = await RawH2.open(port);
    h2.write(headers(1, c.fields, c.body === undefined && c.trailers === undefined));
    if (c.body !== undefined) h2.write(data(1, c.body, c.trailers === undefined || c.trailers.length === 0));
    if (c.trailers !== undefined && c.trailers.length > 0) h2.write(headers(1, c.trailers, true));
    const got = await h2.result(1);
    h2.close();
    assert.ok(got.reset > 0 || (got.status >= 400 && got.status < 500), `${name}: ${JSON.stringify(got)}`);
  }
  assert.equal(member.requests.length, 0, JSON.stringify(member.requests.map((r) => [r.method, r.url, r.rawHeaders])));
  const h2 = await RawH2.open(port);
  h2.write(headers(1, GET, true));
  assert.equal((await h2.result(1)).status, 200);
  h2.close();
});

it('passes :authority as Host when a Host field disagrees, and drops a Host trailer', async () => {
  const member = await startMember('web');
  const { port } = await h2cService(pool('round-robin', [{ port: member.port }]));
  const h2 = await RawH2.open(port);
  h2.write(headers(1, [...GET, ['host', 'b.test']], true));
  assert.equal((await h2.result(1)).status, 200);
  h2.write(headers(3, POST, false), data(3, 'hi', false), headers(3, [['host', 'evil.test'], ['x-ok', 'fine']], true));
  assert.equal((await h2.result(3)).status, 200);
  h2.close();
  assert.deepEqual(member.requests.map((r) => r.headers.host), ['a.test', 'a.test']);
  assert.equal(member.requests[1].body.toString(), 'hi');
});

it('never ends at the member a request body of unknown length that the client reset with NO_ERROR before its END_STREAM', async () => {
  // the member reads what comes on each connection (a chunked request) and never answers
  const seen: { text: string; ended: boolean }[] = [];
  const member = await startTcpServer('raw', (socket) => {
    const conn = { text: '', ended: false };
    seen.push(conn);
    socket.on('data', (c: Buffer) => (conn.text += c.toString('latin1')));
    socket.on('end', () => (conn.ended = true));
  });
  const { port } = await h2cService(pool('round-robin', [{ port: member.port }]));
  const h2 = await RawH2.open(port);
  // the whole body, then the end, as a control: the member gets the last chunk
  h2.write(headers(1, POST, false), data(1, 'abc', true));
  await until(() => seen[0]?.text.endsWith('3\r\nabc\r\n0\r\n\r\n') === true);
  // part of a body, then RST_STREAM(NO_ERROR): the request broke off (RFC 9113 8.1); it rides a connection of its own
  h2.write(headers(3, POST, false), data(3, 'abc', false));
  await until(() => seen[1]?.text.endsWith('3\r\nabc\r\n') === true);
  h2.write(frame(0x3, 0, 3, Buffer.alloc(4)));
  // furiwake closes that member connection (it cannot carry another request) without the last chunk
  await until(() => seen[1].ended || seen[1].text.endsWith('0\r\n\r\n'));
  h2.close();
  // (before: node's http2 ends the stream's readable side as at END_STREAM, and the member got 0 CRLF CRLF: a whole request of 3 bytes)
  assert.ok(seen[1].text.endsWith('3\r\nabc\r\n'), JSON.stringify(seen[1].text));
  assert.ok(seen[1].ended);
});

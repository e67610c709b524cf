// Request smuggling: each request of the table (smuggling-vectors.ts) is refused with its status
// before a byte of it reaches a member, or forwarded as the table says, normalised. Whatever the
// row, the member (which frames requests itself) never reads a request that furiwake did not
// frame: a request hidden in another's body or trailers would show up there as one of its own.

import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Furiwake } from '../../../src/app.ts';
import { createLogger } from '../../../src/log.ts';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { connection, httpConfig, startMember } from './helpers.ts';
import { outcome, sendRaw, startRecordingMember, statuses, VECTORS } from './smuggling-vectors.ts';

describeOnEachEngine('request smuggling table', () => {
  // started once the engine is set (before), not while the tests are collected
  let member: Awaited<ReturnType<typeof startRecordingMember>>;
  let app: Furiwake;
  let port: number;
  before(async () => {
    member = await startRecordingMember();
    app = await Furiwake.start(httpConfig(pool('round-robin', [{ port: member.port }]), { forwarded: 'none' }), createLogger('silent'));
    port = app.address('svc').port;
  });
  after(async () => {
    await app.stop(0);
    await member.close();
  });
  const framed: string[] = [];

  it('has at least 40 rows, each named once', () => {
    assert.ok(VECTORS.length >= 40, `${VECTORS.length} rows`);
    assert.equal(new Set(VECTORS.map((v) => v.name)).size, VECTORS.length);
  });

  for (const v of VECTORS) {
    const refused = v.ours[v.ours.length - 1] >= 400;
    it(`${v.name}: ${outcome(v.ours, v.member)} (HAProxy 2.6: ${v.haproxy})`, { timeout: 10_000 }, async () => {
      const before = member.requests.length;
      const bytesBefore = member.bytes;
      const got = await sendRaw(port, v.send, (text) => statuses(text).length >= v.ours.length && !refused);
      assert.deepEqual(statuses(got.text), v.ours, got.text);
      if (refused) {
        // an error closes the connection, and says so
        assert.equal(got.closed, true);
        assert.match(got.text, /\r\nconnection: close\r\n\r\n[^\r\n]*\n$/);
      }
      const seen = member.requests.slice(before);
      framed.push(...seen.map((r) => r.line));
      assert.deepEqual(seen.map((r) => r.line), v.member);
      if (v.member.length === 0) assert.equal(member.bytes, bytesBefore, 'not a byte went to the member');
      if (v.head !== undefined) assert.match(seen[0].head, v.head);
    });
  }

  it('never let the member read a request furiwake did not frame', async () => {
    assert.deepEqual(member.unreadable, []);
    assert.equal(framed.filter((line) => line.includes('smuggled')).length, 0);
    assert.deepEqual(framed, VECTORS.flatMap((v) => v.member));
    await app.runtime.connections.drained();
  });
});

describeOnEachEngine('a malformed chunk after a good one', () => {
  it('is refused without sending the rest, and closes both sides', async () => {
    let memberClosed = (): void => {};
    const closed = new Promise<void>((resolve) => (memberClosed = resolve));
    const m = await startMember('a', (req, res) => {
      req.on('data', () => {});
      req.on('error', () => {});
      req.socket.on('close', () => memberClosed());
      res.on('error', () => {});
    }, { stream: true });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }])));
    const c = await connection(app.address('svc').port);
    c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    while (m.requests.length === 0) await new Promise((r) => setImmediate(r));
    const got = await c.send('zz\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.includes('\r\n\r\n'));
    assert.match(got, /^HTTP\/1.1 400 /);
    await closed;
    await c.close();
    assert.deepEqual(m.requests.map((r) => r.url), ['/']);
    await app.runtime.connections.drained();
  });

  it('is refused in the trailers too: a request line sent as a trailer never reaches the member', async () => {
    const member = await startRecordingMember();
    after(() => member.close());
    const app = await startApp(httpConfig(pool('round-robin', [{ port: member.port }])));
    const c = await connection(app.address('svc').port);
    c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    while (member.bytes === 0) await new Promise((r) => setImmediate(r));
    const got = await c.send('0\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.includes('\r\n\r\n'));
    assert.match(got, /^HTTP\/1.1 400 /);
    await c.close();
    await app.runtime.connections.drained();
    assert.deepEqual(member.requests, []);
    assert.deepEqual(member.unreadable, []);
  });
});

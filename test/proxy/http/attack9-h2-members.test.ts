// Attacks on HTTP/2 members as messages (h2-member-stream.ts, h2-member-heads.ts, exchange.ts
// upstreamHead): what a hostile h2c member can make furiwake send its HTTP/1.1 clients.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { startH2Member } from './h2-members-helpers.ts';
import { httpConfig, raw } from './helpers.ts';

describe('an HTTP/2 member flooding interim heads without fields', () => {
  it('gets a 502 once its 1xx heads pass 64 KiB together, as an HTTP/1.1 member does; a few are passed on', async () => {
    const m = await startH2Member('m', (stream, headers) => {
      const n = headers[':path'] === '/flood' ? 5_000 : 2;
      for (let i = 0; i < n; i++) stream.additionalHeaders({ ':status': 103 });
      stream.respond({ ':status': 200, 'content-length': '2' });
      stream.end('ok');
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: m.port }], {}, { memberProtocol: 'h2c' }), {}, { retries: 0 }));
    const port = app.address('svc').port;
    const flood = await raw(port, 'GET /flood HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const finals = [...flood.text.matchAll(/HTTP\/1\.1 ([2-5]\d\d) /g)].map((x) => Number(x[1]));
    // (before: every one of the 5,000 went to the client, whatever their number: each counted 0 bytes)
    assert.deepEqual(finals, [502]);
    assert.match(flood.text, /interim \(1xx\) responses from the member larger than 65536 bytes/);
    assert.ok(flood.text.split(' 103 ').length - 1 < 64 * 1024 / 17);
    const few = await raw(port, 'GET /few HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(few.text, /^HTTP\/1\.1 103 [^\r]*\r\n\r\nHTTP\/1\.1 103 [^\r]*\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  });
});

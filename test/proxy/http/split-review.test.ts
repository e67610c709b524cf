// Found reviewing the split of the exchange from its client connection (ClientStream): what a
// stranger's attack on loopback showed, pinned.

import assert from 'node:assert/strict';
import type http from 'node:http';
import { describe, it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { raw, startMember } from './helpers.ts';
import { httpConfig } from './helpers.ts';

describe('a request that fails while it waits in the pool queue', () => {
  it('leaves the queue: the member slot it would have got goes to the next request, and the member never sees it', async () => {
    let holding: http.ServerResponse | null = null;
    let held!: () => void;
    const isHeld = new Promise<void>((resolve) => (held = resolve));
    const member = await startMember('m', (req, res) => {
      if (req.url === '/hold') {
        holding = res;
        held();
        return;
      }
      res.end(`m ${req.method} ${req.url}`);
    });
    const app = await startApp(httpConfig(pool('round-robin', [{ port: member.port, maxConnections: 1 }], { timeout: 2_000 })));
    const svc = app.address('svc').port;
    // A takes the member's only slot
    const a = raw(svc, 'GET /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await isHeld;
    // B queues with an upload, then breaks it off: a malformed chunk, and a close halfway
    const bad = await raw(svc, 'POST /bad-chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n');
    assert.equal(bad.status, 400);
    const cut = await raw(svc, 'POST /cut HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789', { halfClose: true });
    assert.equal(cut.status, 400);
    // A ends: the slot goes to C, not to B's requests that are gone
    (holding as http.ServerResponse | null)!.end('done');
    assert.equal((await a).status, 200);
    const c = await raw(svc, 'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(c.status, 200, c.text);
    assert.deepEqual(member.requests.map((r) => r.url), ['/hold', '/c']);
  });
});

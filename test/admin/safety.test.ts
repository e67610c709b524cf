// What already held and must go on holding: the token compared in constant time whatever its
// length, no CORS (a preflight is refused, no answer allows another origin), a write without a
// JSON type refused with 415 whatever its body, and only the dashboard's fixed files served.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { TokenCheck } from '../../src/admin/auth.ts';
import { parseConfig } from '../../src/config/load.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { call, rawRequest, startAdminApp, TOKEN } from './helpers.ts';

async function admin() {
  const a = await startTcpServer('a');
  const { app, base } = await startAdminApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }])));
  return { app, base, port: Number(new URL(base).port) };
}

describe('admin API: what holds', () => {
  it('compares tokens of any length without throwing (both sides hashed to one length for timingSafeEqual)', () => {
    const check = new TokenCheck(TOKEN);
    assert.equal(check.verify(`Bearer ${TOKEN}`), 'ok');
    assert.equal(check.verify(`bearer \t${TOKEN} `), 'ok');
    for (const wrong of ['x', TOKEN.slice(0, -1), `${TOKEN}x`, 'y'.repeat(10_000), TOKEN.toUpperCase()]) assert.equal(check.verify(`Bearer ${wrong}`), 'wrong', wrong.slice(0, 20));
    for (const missing of [undefined, '', 'Bearer', `Basic ${TOKEN}`, `Bearer ${TOKEN} extra`]) assert.equal(check.verify(missing), 'missing', String(missing));
    assert.equal(new TokenCheck(null).verify(undefined), 'ok');
  });

  it('makes reads need the token on a listener other hosts can reach (0.0.0.0), as the config file sets by default', async () => {
    const a = await startTcpServer('a');
    const parsed = parseConfig(`admin: { listen: "0.0.0.0:0", token: ${TOKEN} }\nservices: { svc: { listen: 127.0.0.1:0, mode: tcp, pool: p } }\npools: { p: { members: [ { address: 127.0.0.1:${a.port}, id: a } ] } }\n`, 'a.yaml', {});
    const { base } = await startAdminApp(parsed, parsed.admin);
    const open = await call(base, '/api/v1/status', { token: null });
    assert.deepEqual([open.status, open.body.error], [401, 'reads need the admin token: send Authorization: Bearer <admin.token>']);
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    const read = await call(base, '/api/v1/status');
    assert.deepEqual(read.body.auth, { reads: 'token', writes: 'token' });
  });

  it('sends no CORS headers: a preflight gets 405, a write from another origin 403, neither allows the origin', async () => {
    const { port } = await admin();
    const preflight = await rawRequest(port, {
      method: 'OPTIONS', path: '/api/v1/pools/p/members/a',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(preflight.status, 405);
    const write = await rawRequest(port, {
      method: 'PATCH', path: '/api/v1/pools/p/members/a', body: '{"state":"disabled"}',
      headers: { origin: 'http://evil.example', authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    });
    assert.equal(write.status, 403);
    for (const answer of [preflight, write]) {
      assert.deepEqual(Object.keys(answer.headers).filter((h) => h.startsWith('access-control-')), []);
    }
  });

  it('refuses a write whose type is not JSON with 415, even when the body is JSON', async () => {
    const { app, base } = await admin();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx']) {
      const answer = await call(base, '/api/v1/pools/p/members/a', { method: 'PATCH', raw: '{"state":"disabled"}', type });
      assert.equal(answer.status, 415, type);
    }
    assert.equal(app.runtime.member('p', 'a')!.admin, 'enabled');
  });

  it('answers a head larger than 16 KiB with 431 and closes', async () => {
    const { port } = await admin();
    const socket = net.connect(port, '127.0.0.1');
    socket.end(`GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(17 * 1024)}\r\n\r\n`);
    let answer = '';
    socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
    socket.on('error', () => {});
    await once(socket, 'close');
    assert.match(answer, /^HTTP\/1\.1 431 /);
  });

  it('serves only its fixed files: no path reaches another file', async () => {
    const { port } = await admin();
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/static/index.html', '/index.html/../../package.json', '/dashboard.js/',
      '/dashboard.js%00', '/src/admin/static/index.html', '//etc/passwd', '/..%2f..%2fpackage.json', '/favicon.svg?x=/../package.json']) {
      const answer = await rawRequest(port, { path });
      if (path.startsWith('/favicon.svg?')) assert.equal(answer.status, 200, path); // the query is not part of the path
      else assert.ok(answer.status === 404 || answer.status === 400, `${path}: ${answer.status}`);
      assert.doesNotMatch(answer.text, /"name": "furiwake"|root:/, path);
    }
  });
});

// The http and https monitors against node's servers and nginx: what the request carried on the
// wire, each verdict and its reason, the bounded body read, TLS verification and SNI.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HttpMonitor } from '../../../src/config/health-types.ts';
import { createHttpMonitor } from '../../../src/health/monitors/http.ts';
import { COMMON, endlessBody, httpPeer, httpsPeer, never, selfSigned, target, tcpPeer, type HttpPeer, type SelfSigned } from '../helpers-basic.ts';
import { tempDir } from '../../helpers/files.ts';
import { startNginx } from '../../helpers/nginx.ts';
import { checkHandles } from '../../helpers/handles.ts';
import { freePort } from '../../helpers/ports.ts';

function http(options: Partial<HttpMonitor> = {}): HttpMonitor {
  return {
    ...COMMON,
    type: 'http',
    method: 'GET',
    path: '/health',
    host: null,
    headers: {},
    body: null,
    expectStatus: [[200, 299]],
    expectBody: null,
    maxBody: 64 * 1024,
    tls: { sni: null, verify: true, ca: null, cert: null, key: null },
    ...options,
  };
}

function https(tls: Partial<HttpMonitor['tls']>, options: Partial<HttpMonitor> = {}): HttpMonitor {
  return http({ type: 'https', tls: { sni: null, verify: true, ca: null, cert: null, key: null, ...tls }, ...options });
}


describe('http monitor against node', () => {
  let peer: HttpPeer;
  before(async () => {
    peer = await httpPeer((req, res) => {
      switch (new URL(req.url ?? '/', 'http://peer').pathname) {
        case '/health': return res.end('OK healthy\n');
        case '/down': res.statusCode = 503; return res.end('maintenance\n');
        case '/moved': res.writeHead(302, { location: '/elsewhere' }); return res.end();
        case '/bad-body': return res.end('everything is on fire\n');
        case '/endless': return endlessBody(res);
        case '/never': return; // no response at all
        default: res.statusCode = 404; return res.end();
      }
    });
  });
  after(() => peer.close());
  checkHandles(() => peer.idle());
  const last = () => peer.requests[peer.requests.length - 1];

  test('200: up, and the request is a GET of the path with Host ip:port', async () => {
    const result = await createHttpMonitor(http()).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'status 200' });
    assert.equal(last().method, 'GET');
    assert.equal(last().url, '/health');
    assert.equal(last().host, `127.0.0.1:${peer.port}`);
    assert.equal(last().headers['user-agent'], 'furiwake-health');
    await peer.connectionClosed(peer.requests.length); // a fresh connection per check, closed after
  });

  test('Host is the member host as configured; config host and extra headers win', async () => {
    await createHttpMonitor(http()).run(target(peer.port, 'web1.example'), never());
    assert.equal(last().host, `web1.example:${peer.port}`);
    const monitor = createHttpMonitor(http({ host: 'www.example.com', headers: { 'X-Probe': 'furiwake', 'User-Agent': 'probe/1' } }));
    await monitor.run(target(peer.port, 'web1.example'), never());
    assert.equal(last().host, 'www.example.com');
    assert.equal(last().headers['x-probe'], 'furiwake');
    assert.equal(last().headers['user-agent'], 'probe/1');
  });

  test('503: down, status 503', async () => {
    const result = await createHttpMonitor(http({ path: '/down' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: false, reason: 'status 503' });
  });

  test('a status inside another expected range: up', async () => {
    const monitor = createHttpMonitor(http({ path: '/moved', expectStatus: [[200, 200], [300, 399]] }));
    assert.deepEqual(await monitor.run(target(peer.port), never()), { up: true, reason: 'status 302' });
    const strict = createHttpMonitor(http({ path: '/moved', expectStatus: [[200, 200]] }));
    assert.deepEqual(await strict.run(target(peer.port), never()), { up: false, reason: 'status 302' });
  });

  test('expected body found: up; not found: body did not match', async () => {
    const ok = createHttpMonitor(http({ expectBody: { kind: 'regex', value: 'OK' } }));
    assert.deepEqual(await ok.run(target(peer.port), never()), { up: true, reason: 'status 200' });
    const bad = createHttpMonitor(http({ path: '/bad-body', expectBody: { kind: 'regex', value: 'OK' } }));
    assert.deepEqual(await bad.run(target(peer.port), never()), { up: false, reason: 'body did not match /OK/' });
  });

  test('HEAD: the server sees HEAD, the status decides', async () => {
    const result = await createHttpMonitor(http({ method: 'HEAD' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'status 200' });
    assert.equal(last().method, 'HEAD');
  });

  test('POST with a body: method, path, Host, Content-Length and body reach the server', async () => {
    const body = '{"probe":"furiwake"}';
    const monitor = createHttpMonitor(http({
      method: 'POST', path: '/health?from=lb', body, headers: { 'content-type': 'application/json' },
    }));
    assert.deepEqual(await monitor.run(target(peer.port, 'api.example'), never()), { up: true, reason: 'status 200' });
    assert.equal(last().method, 'POST');
    assert.equal(last().url, '/health?from=lb');
    assert.equal(last().host, `api.example:${peer.port}`);
    assert.equal(last().headers['content-length'], String(Buffer.byteLength(body)));
    assert.equal(last().headers['content-type'], 'application/json');
    assert.equal(last().body, body);
  });

  test('a body larger than maxBody is not read to its end: down, and the connection is closed', async () => {
    const monitor = createHttpMonitor(http({ path: '/endless', maxBody: 1024, expectBody: { kind: 'string', value: 'OK' } }));
    const result = await monitor.run(target(peer.port), never());
    assert.deepEqual(result, { up: false, reason: 'body did not match "OK"' });
    await peer.connectionClosed(peer.requests.length); // the endless body stops only when the client hangs up
  });

  test('no response: the abort settles the check and closes the connection', async () => {
    const controller = new AbortController();
    const n = peer.requests.length + 1;
    const check = createHttpMonitor(http({ path: '/never' })).run(target(peer.port), controller.signal);
    await peer.requested(n);
    controller.abort();
    assert.equal((await check).up, false);
    await peer.connectionClosed(n);
  });

  test('an already aborted signal: settles at once, no request sent', async () => {
    const controller = new AbortController();
    controller.abort();
    const n = peer.requests.length;
    assert.equal((await createHttpMonitor(http()).run(target(peer.port), controller.signal)).up, false);
    assert.equal(peer.requests.length, n);
  });

  test('aborted right after it started: settles, nothing left open', async () => {
    const controller = new AbortController();
    const check = createHttpMonitor(http()).run(target(peer.port), controller.signal);
    controller.abort();
    assert.equal((await check).up, false);
  });
});

describe('http monitor: failures below HTTP', () => {
  checkHandles();

  test('a closed port: connection refused', async () => {
    const port = await freePort();
    assert.deepEqual(await createHttpMonitor(http()).run(target(port), never()), { up: false, reason: 'connection refused' });
  });

  test('a server that closes without answering: connection closed before a response', async () => {
    const peer = await tcpPeer((socket) => socket.once('data', () => socket.end()));
    const result = await createHttpMonitor(http()).run(target(peer.port), never());
    assert.deepEqual(result, { up: false, reason: 'connection closed before a response' });
    await peer.close();
  });

  test('a server that answers something else than HTTP: invalid HTTP response', async () => {
    const peer = await tcpPeer((socket) => socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.2\r\n')));
    const result = await createHttpMonitor(http()).run(target(peer.port), never());
    assert.equal(result.up, false);
    assert.match(result.reason, /^invalid HTTP response: /);
    await peer.close();
  });
});

describe('http monitor against nginx', () => {
  let nginx: { port: number; close(): Promise<void> };
  before(async () => {
    nginx = await startNginx(await tempDir('nginx'), `
      location = /health { default_type text/plain; return 200 "OK from nginx\\n"; }
      location / { return 404; }
    `);
  });
  after(() => nginx?.close());
  checkHandles();

  test('a 200 location with the expected body: up', async () => {
    const monitor = createHttpMonitor(http({ expectBody: { kind: 'string', value: 'OK from nginx' } }));
    assert.deepEqual(await monitor.run(target(nginx.port), never()), { up: true, reason: 'status 200' });
  });

  test('a missing location: down, status 404', async () => {
    const monitor = createHttpMonitor(http({ path: '/nothing-here' }));
    assert.deepEqual(await monitor.run(target(nginx.port), never()), { up: false, reason: 'status 404' });
  });

  test('HEAD and POST are answered too', async () => {
    const head = createHttpMonitor(http({ method: 'HEAD' }));
    assert.deepEqual(await head.run(target(nginx.port), never()), { up: true, reason: 'status 200' });
    const post = createHttpMonitor(http({ method: 'POST', body: 'x=1' }));
    assert.deepEqual(await post.run(target(nginx.port), never()), { up: true, reason: 'status 200' });
  });
});

describe('https monitor', () => {
  let dir: string;
  let cert: SelfSigned;
  let peer: HttpPeer;
  before(async () => {
    dir = await tempDir('https');
    cert = await selfSigned(dir);
    peer = await httpsPeer((_req, res) => res.end('OK\n'), cert);
  });
  after(() => peer?.close());
  checkHandles(() => peer.idle());
  const last = () => peer.requests[peer.requests.length - 1];

  test('a self-signed certificate with verify off: up', async () => {
    const monitor = createHttpMonitor(https({ verify: false }));
    assert.deepEqual(await monitor.run(target(peer.port, 'localhost'), never()), { up: true, reason: 'status 200' });
    assert.equal(last().servername, 'localhost'); // the member's host name is the SNI by default
  });

  test('a self-signed certificate with verify on: down, TLS: self-signed certificate', async () => {
    const monitor = createHttpMonitor(https({ verify: true }));
    const result = await monitor.run(target(peer.port, 'localhost'), never());
    assert.deepEqual(result, { up: false, reason: 'TLS: self-signed certificate' });
  });

  test('verify on with that certificate as CA and SNI localhost: up, the server saw the SNI', async () => {
    const monitor = createHttpMonitor(https({ verify: true, ca: cert.certPath, sni: 'localhost' }));
    const result = await monitor.run(target(peer.port, '127.0.0.1'), never());
    assert.deepEqual(result, { up: true, reason: 'status 200' });
    assert.equal(last().servername, 'localhost');
    assert.equal(last().host, `127.0.0.1:${peer.port}`);
  });

  test('an IP member without sni: no SNI sent, and verification is against the IP', async () => {
    const off = createHttpMonitor(https({ verify: false }));
    assert.deepEqual(await off.run(target(peer.port, '127.0.0.1'), never()), { up: true, reason: 'status 200' });
    assert.equal(last().servername, false);
    const on = createHttpMonitor(https({ verify: true, ca: cert.certPath }));
    const result = await on.run(target(peer.port, '127.0.0.1'), never());
    assert.equal(result.up, false);
    assert.match(result.reason, /^TLS: Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1/);
  });

  test('https to a plain http server: down with a TLS reason', async () => {
    const plain = await httpPeer((_req, res) => res.end('OK\n'));
    const result = await createHttpMonitor(https({ verify: false })).run(target(plain.port), never());
    await plain.close();
    assert.deepEqual(result, { up: false, reason: 'TLS: wrong version number' });
  });

  test('unreadable or bad TLS files fail when the monitor is created, naming the file', async () => {
    const missing = join(dir, 'missing.pem');
    assert.throws(() => createHttpMonitor(https({ ca: missing })), {
      message: new RegExp(`^https monitor: cannot read tls ca file ${missing}: ENOENT`),
    });
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, 'not a certificate\n');
    assert.throws(() => createHttpMonitor(https({ cert: garbage, key: cert.keyPath })), /^Error: https monitor: bad TLS file/);
    assert.throws(() => createHttpMonitor(https({ cert: cert.certPath })), /needs both tls cert and tls key \(key is missing\)/);
  });
});

// Routes of an http service end to end: one VIP in front of three real pools by host and path
// (which member answered is what the member itself writes), wildcard and regex hosts, methods,
// headers, query, client networks (IPv4 and IPv6, from a PROXY header), the TLS server name;
// the actions redirect, respond and deny, strip-prefix and replace-prefix as the member sees
// them, the service's pool when nothing matches, and each route's counters.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, it } from 'node:test';
import { loadConfig, parseConfig } from '../../../src/config/load.ts';
import type { Writable } from 'node:stream';
import { Furiwake } from '../../../src/app.ts';
import { createLogger } from '../../../src/log.ts';
import { proxyHeader } from '../../../src/proxy/proxy-protocol.ts';
import type { ServiceView } from '../../../src/admin/schemas.ts';
import { baseOf, call, startAdminApp } from '../../admin/helpers.ts';
import { logSink, startApp } from '../../helpers/app.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { certDir, selfSigned } from './certs.ts';
import { bodyOf, connection, headerOf, raw, startMember, type HttpMember } from './helpers.ts';

/** Three pools of one member each, `web` the service's own; `routes` in YAML flow form. */
async function vip(routes: string, service = '', withAdmin = false, log: Writable | null = null): Promise<{ app: Furiwake; port: number; api: HttpMember; files: HttpMember; web: HttpMember }> {
  const api = await startMember('api');
  const files = await startMember('files');
  const web = await startMember('web');
  // one event loop: the tests read the access log and the route counters of this thread
  const config = parseConfig(`global: { log-level: silent, workers: 1 }
services:
  www: { listen: 127.0.0.1:0, mode: http, pool: web, ${service} routes: ${routes} }
pools:
  web: { members: [ { address: 127.0.0.1:${web.port} } ] }
  api: { members: [ { address: 127.0.0.1:${api.port} } ] }
  files: { members: [ { address: 127.0.0.1:${files.port} } ] }
`, 'routes.yaml', {});
  let app: Furiwake;
  if (log !== null) {
    app = await Furiwake.start(config, createLogger('info', log));
    after(() => app.stop(0));
  } else {
    app = withAdmin ? (await startAdminApp(config)).app : await startApp(config);
  }
  return { app, port: app.address('www').port, api, files, web };
}

/** One request on its own connection; the whole response as text. */
async function ask(port: number, path: string, headers = '', method = 'GET'): Promise<string> {
  const c = await connection(port);
  const request = `${method} ${path} HTTP/1.1\r\n${headers.includes('Host:') ? '' : 'Host: www.example.com\r\n'}${headers}\r\n`;
  // a HEAD answer has a Content-Length but no body
  const got = await (method === 'HEAD' ? c.send(request, (text) => text.includes('\r\n\r\n')) : c.send(request));
  await c.close();
  return got;
}

function host(name: string): string {
  return `Host: ${name}\r\n`;
}

describeOnEachEngine('http routes', () => {
  it('one VIP in front of three pools, by host and path; the service pool when nothing matches', async () => {
    const { port, api, files, web } = await vip(`[
      { name: api, match: { host: api.example.com, path-prefix: /v1/ }, pool: api },
      { name: static, match: { path-prefix: [ /static/, /assets/ ] }, pool: files },
      { name: status, match: { host: api.example.com, path: /status }, pool: files },
    ]`);
    assert.equal(bodyOf(await ask(port, '/v1/users?id=3', host('api.example.com'))), 'api GET /v1/users?id=3');
    assert.equal(bodyOf(await ask(port, '/v1/users', host('API.Example.COM:8080'))), 'api GET /v1/users');
    assert.equal(bodyOf(await ask(port, '/static/app.js', host('api.example.com'))), 'files GET /static/app.js');
    assert.equal(bodyOf(await ask(port, '/assets/x.png')), 'files GET /assets/x.png');
    assert.equal(bodyOf(await ask(port, '/status', host('api.example.com'))), 'files GET /status');
    // near misses go to the service's pool
    assert.equal(bodyOf(await ask(port, '/v1/users', host('www.example.com'))), 'web GET /v1/users');
    assert.equal(bodyOf(await ask(port, '/v1', host('api.example.com'))), 'web GET /v1');
    assert.equal(bodyOf(await ask(port, '/status/', host('api.example.com'))), 'web GET /status/');
    assert.equal(bodyOf(await ask(port, '/')), 'web GET /');
    assert.deepEqual([api.requests.length, files.requests.length, web.requests.length], [2, 3, 4]);
  });

  it('takes wildcard hosts, regexes, methods, headers and query parameters, first match first', async () => {
    const { port } = await vip(`[
      { name: shop, match: { host: "*.shop.example.com" }, pool: api },
      { name: numbered, match: { host-regex: "^node[0-9]+\\\\.example\\\\.com$", path-regex: "^/n/[0-9]+$" }, pool: files },
      { name: writes, match: { method: [ POST, PUT ], path-prefix: /data }, pool: files },
      { name: canary, match: { header: { x-env: canary, x-ver: { regex: "^2\\\\." } } }, pool: api },
      { name: debug, match: { query: { debug: true, lang: en } }, pool: files },
    ]`);
    assert.equal(bodyOf(await ask(port, '/', host('a.shop.example.com'))), 'api GET /');
    assert.equal(bodyOf(await ask(port, '/', host('a.b.shop.example.com'))), 'api GET /');
    assert.equal(bodyOf(await ask(port, '/', host('shop.example.com'))), 'web GET /');
    assert.equal(bodyOf(await ask(port, '/n/12', host('node7.example.com'))), 'files GET /n/12');
    assert.equal(bodyOf(await ask(port, '/n/12?x=1', host('node7.example.com'))), 'files GET /n/12?x=1');
    assert.equal(bodyOf(await ask(port, '/n/x', host('node7.example.com'))), 'web GET /n/x');
    assert.equal(bodyOf(await ask(port, '/n/12', host('nodeX.example.com'))), 'web GET /n/12');
    assert.equal(bodyOf(await ask(port, '/data/1', 'Content-Length: 0\r\n', 'PUT')), 'files PUT /data/1');
    assert.equal(bodyOf(await ask(port, '/data/1')), 'web GET /data/1');
    assert.equal(bodyOf(await ask(port, '/', 'X-Env: canary\r\nX-Ver:  2.1 \r\n')), 'api GET /');
    assert.equal(bodyOf(await ask(port, '/', 'X-Env: canary\r\nX-Ver: 3.0\r\n')), 'web GET /');
    assert.equal(bodyOf(await ask(port, '/', 'X-Env: Canary\r\nX-Ver: 2.0\r\n')), 'web GET /');
    assert.equal(bodyOf(await ask(port, '/?a=1&debug&lang=en')), 'files GET /?a=1&debug&lang=en');
    assert.equal(bodyOf(await ask(port, '/?debug=1&lang=en')), 'files GET /?debug=1&lang=en');
    assert.equal(bodyOf(await ask(port, '/?debug&lang=eng')), 'web GET /?debug&lang=eng');
    // the first route that matches wins: a shop host with the canary header goes to shop's pool
    assert.equal(bodyOf(await ask(port, '/?debug&lang=en', `${host('x.shop.example.com')}X-Env: canary\r\nX-Ver: 2.0\r\n`)), 'api GET /?debug&lang=en');
  });

  it('redirects with the request in the Location, answers itself, and denies with 403', async () => {
    const { port, web } = await vip(`[
      { name: old, match: { path-prefix: /old/ }, redirect: { code: 301, location: "https://{host}/new{path}{query}" } },
      { name: plain, match: { path: /plain }, redirect: { location: "{scheme}://elsewhere.example.com/" } },
      { name: hello, match: { path: /hello }, respond: { status: 201, body: "héllo", content-type: text/x-greeting } },
      { name: gone, match: { path: /gone }, respond: { status: 410 } },
      { name: admin, match: { path-prefix: /admin }, deny: true },
    ]`);
    const moved = await ask(port, '/old/a?b=1', host('www.example.com:8080'));
    assert.match(moved, /^HTTP\/1.1 301 Moved Permanently\r\n/);
    assert.equal(headerOf(moved, 'location'), 'https://www.example.com:8080/new/old/a?b=1');
    assert.equal(headerOf(moved, 'content-length'), '0');
    const plain = await ask(port, '/plain');
    assert.match(plain, /^HTTP\/1.1 302 Found\r\n/);
    assert.equal(headerOf(plain, 'location'), 'http://elsewhere.example.com/');
    const hello = await ask(port, '/hello');
    assert.match(hello, /^HTTP\/1.1 201 Created\r\n/);
    assert.equal(headerOf(hello, 'content-type'), 'text/x-greeting');
    assert.equal(headerOf(hello, 'content-length'), '6');
    assert.equal(Buffer.from(bodyOf(hello), 'latin1').toString('utf8'), 'héllo');
    const head = await ask(port, '/hello', '', 'HEAD');
    assert.equal(headerOf(head, 'content-length'), '6');
    assert.equal(bodyOf(head), '');
    const gone = await ask(port, '/gone');
    assert.match(gone, /^HTTP\/1.1 410 Gone\r\n/);
    assert.equal(bodyOf(gone), '');
    const denied = await ask(port, '/admin/users');
    assert.match(denied, /^HTTP\/1.1 403 Forbidden\r\n/);
    assert.match(bodyOf(denied), /denied by route admin/);
    // the connection stays open across our own answers: four on one connection
    const c = await connection(port);
    for (const path of ['/hello', '/admin', '/old/x', '/x']) assert.match(await c.send(`GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`), /^HTTP\/1.1 (201|403|301|200) /);
    await c.close();
    assert.deepEqual(web.requests.map((r) => r.url), ['/x']);
  });

  it('denies a request with a body, reading it or closing', async () => {
    const { port } = await vip('[ { name: admin, match: { path-prefix: /admin }, deny: true } ]');
    const got = await raw(port, 'POST /admin HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    assert.equal(got.status, 403);
  });

  it('rewrites the path on the way to the member: strip-prefix and replace-prefix', async () => {
    const { port, api, files } = await vip(`[
      { name: api, match: { path-prefix: /api/ }, pool: api, strip-prefix: /api },
      { name: v0, match: { path-prefix: /v0/ }, pool: files, replace-prefix: { from: /v0/, to: /v1/ } },
    ]`);
    assert.equal(bodyOf(await ask(port, '/api/users?x=1')), 'api GET /users?x=1');
    assert.equal(bodyOf(await ask(port, '/api/')), 'api GET /');
    assert.equal(bodyOf(await ask(port, '/v0/items')), 'files GET /v1/items');
    assert.deepEqual(api.requests.map((r) => r.url), ['/users?x=1', '/']);
    assert.deepEqual(files.requests.map((r) => r.url), ['/v1/items']);
  });

  it('routes by client network, IPv4 and IPv6, for the client a PROXY header names', async () => {
    const { port } = await vip(`[
      { name: inside, match: { client-network: [ 10.0.0.0/8, "2001:db8:1::/48" ] }, pool: api },
      { name: local, match: { client-network: 127.0.0.1 }, pool: files },
    ]`, 'accept-proxy: true,');
    const from = async (address: string): Promise<string> => {
      const header = proxyHeader('v2', 'tcp', { address, port: 4000 }, { address: address.includes(':') ? '2001:db8::99' : '192.0.2.1', port: 80 });
      return bodyOf((await raw(port, [header, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'])).text);
    };
    assert.equal(await from('10.1.2.3'), 'api GET /');
    assert.equal(await from('11.1.2.3'), 'web GET /');
    assert.equal(await from('2001:db8:1:ff::7'), 'api GET /');
    assert.equal(await from('2001:db8:2::7'), 'web GET /');
    assert.equal(await from('127.0.0.1'), 'files GET /');
    // ::ffff:10.1.2.3 is the IPv4 client 10.1.2.3
    assert.equal(await from('::ffff:10.1.2.3'), 'api GET /');
  });

  it("names the route in the access log line, and the path the client sent", async () => {
    const { sink, lines } = logSink();
    const { port } = await vip('[ { name: api, match: { path-prefix: /api/ }, pool: api, strip-prefix: /api } ]', '', false, sink);
    await ask(port, '/api/users');
    await ask(port, '/other');
    const logged = lines.filter((l) => l.msg === 'request').map((l) => [l.route, l.member === null ? null : 'member', l.path]);
    assert.deepEqual(logged, [['api', 'member', '/api/users'], [undefined, 'member', '/other']]);
  });

  it('a reload with other routes applies to the next request of a live connection, and keeps the counters of a route that stays', async () => {
    const { app, port } = await vip('[ { name: api, match: { path-prefix: /api/ }, pool: api } ]');
    const c = await connection(port);
    assert.equal(bodyOf(await c.send('GET /api/a HTTP/1.1\r\nHost: h\r\n\r\n')), 'api GET /api/a');
    const next = structuredClone(app.runtime.config!);
    next.services.www.http!.routes = parseConfig(`services:
  www: { listen: 127.0.0.1:0, mode: http, pool: web, routes: [ { name: files, match: { path-prefix: /api/ }, pool: files }, { name: api, match: { path-prefix: /x/ }, pool: api } ] }
pools:
  web: { members: [ { address: 127.0.0.1:1 } ] }
  api: { members: [ { address: 127.0.0.1:1 } ] }
  files: { members: [ { address: 127.0.0.1:1 } ] }
`, 'next.yaml', {}).services.www.http!.routes;
    await app.reload(next);
    // the same client connection, its next request: the new routes
    assert.equal(bodyOf(await c.send('GET /api/a HTTP/1.1\r\nHost: h\r\n\r\n')), 'files GET /api/a');
    assert.equal(bodyOf(await c.send('GET /x/1 HTTP/1.1\r\nHost: h\r\n\r\n')), 'api GET /x/1');
    await c.close();
    const stats = app.runtime.services.get('www')!.routes!.routes.map((r) => [r.name, r.stats.requests]);
    assert.deepEqual(stats, [['files', 1], ['api', 2]]);
  });

  it('counts each route: requests, 5xx and time, in the API and the metrics', async () => {
    const { app, port, files } = await vip(`[
      { name: api, match: { path-prefix: /api/ }, pool: api },
      { name: admin, match: { path: /admin }, deny: true },
      { name: down, match: { path: /down }, pool: files },
    ]`, '', true);
    // the files pool's member is gone: its route answers 502
    await files.close();
    for (const path of ['/api/a', '/api/b', '/admin', '/down', '/']) await ask(port, path);
    const base = baseOf(app);
    const view = (await call(base, '/api/v1/services/www')).body as ServiceView;
    assert.deepEqual(view.routes!.map(({ meanLatency, ...r }) => (assert.ok(meanLatency >= 0), r)), [
      { name: 'api', action: 'pool', pool: 'api', requests: 2, errors: 0, connections: 0, denied: 0 },
      { name: 'admin', action: 'deny', pool: null, requests: 1, errors: 0, connections: 0, denied: 1 },
      { name: 'down', action: 'pool', pool: 'files', requests: 1, errors: 1, connections: 0, denied: 0 },
    ]);
    // the pools a service's routes reach say it sends to them
    assert.deepEqual(((await call(base, '/api/v1/pools/files')).body as { services: string[] }).services, ['www']);
    const metrics = (await call(base, '/metrics')).body as string;
    assert.match(metrics, /^furiwake_route_requests_total\{service="www",route="api"\} 2$/m);
    assert.match(metrics, /^furiwake_route_errors_total\{service="www",route="down"\} 1$/m);
    assert.match(metrics, /^furiwake_route_request_seconds_total\{service="www",route="admin"\} [0-9.e-]+$/m);
  });
});

describeOnEachEngine('https routes', () => {
  it('route by the TLS server name', async () => {
    const dir = certDir();
    const cert = selfSigned(dir, 'routes', ['a.example.test', '*.b.example.test']);
    const a = await startMember('a');
    const b = await startMember('b');
    const file = join(dir, `routes-${a.port}.yaml`);
    writeFileSync(file, `global: { log-level: silent }
services:
  www:
    listen: 127.0.0.1:0
    mode: http
    pool: a
    tls: { certificates: [ { cert: ${cert.cert}, key: ${cert.key} } ] }
    routes:
      - { name: b, match: { sni: "*.b.example.test" }, pool: b }
pools:
  a: { members: [ { address: 127.0.0.1:${a.port} } ] }
  b: { members: [ { address: 127.0.0.1:${b.port} } ] }
`);
    const app = await startApp(await loadConfig(file));
    const port = app.address('www').port;
    const get = (servername: string | undefined): Promise<string> => new Promise((resolve, reject) => {
      const socket = tls.connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false }, () => socket.end('GET / HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('end', () => resolve(bodyOf(text)));
      socket.on('error', reject);
    });
    assert.equal(await get('x.b.example.test'), 'b GET /');
    assert.equal(await get('X.B.Example.Test'), 'b GET /');
    assert.equal(await get('a.example.test'), 'a GET /');
    assert.equal(await get(undefined), 'a GET /');
    // over HTTP/2: every stream of a connection is routed by its server name
    const h2get = async (servername: string): Promise<string[]> => {
      const session = http2.connect(`https://127.0.0.1:${port}`, { servername, rejectUnauthorized: false });
      session.on('error', () => {});
      const one = (): Promise<string> => new Promise((resolve, reject) => {
        const req = session.request({ ':path': '/', ':authority': 'www.example.test' });
        let text = '';
        req.on('data', (c: Buffer) => (text += c.toString('latin1')));
        req.on('end', () => resolve(text.trim()));
        req.on('error', reject);
      });
      try {
        return await Promise.all([one(), one()]);
      } finally {
        session.close();
      }
    };
    assert.deepEqual(await h2get('X.B.Example.Test'), ['b GET /', 'b GET /']);
    assert.deepEqual(await h2get('a.example.test'), ['a GET /', 'a GET /']);
  });
});

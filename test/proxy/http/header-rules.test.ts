// Header rules, request ids and error pages of an http service, end to end: what a real member
// (a node http server recording the headers it got) saw, what the client got back, over HTTP/1.1
// and HTTP/2; a route's rules after the service's; ids generated, kept, replaced, echoed and
// logged; furiwake's own errors with the service's pages (inline and from files, read at load).

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { Furiwake } from '../../../src/app.ts';
import { loadConfig, parseConfig } from '../../../src/config/load.ts';
import { createLogger } from '../../../src/log.ts';
import { logSink, startApp } from '../../helpers/app.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { tempDir } from '../../helpers/files.ts';
import { freePort } from '../../helpers/ports.ts';
import { h2Connect, h2Request } from './h2-helpers.ts';
import { bodyOf, connection, headerOf, raw, startMember, type HttpMember } from './helpers.ts';

/** A member that answers with a few headers of its own (Server, X-Debug, X-Keep). */
async function echoMember(name: string): Promise<HttpMember> {
  return startMember(name, (req, res) => {
    res.setHeader('server', 'member/1.0');
    res.setHeader('x-debug', 'secret');
    res.setHeader('x-keep', 'yes');
    res.setHeader('content-type', 'text/plain');
    res.end(`${name} ${req.url}`);
  });
}

/** The service `www` in front of pool `web` (and `api`), `keys` in YAML flow form; `workers` threads. */
function yaml(keys: string, web: number, api: number, workers: number | 'auto' = 1): string {
  return `global: { log-level: silent, workers: ${workers} }
services:
  www: { listen: 127.0.0.1:0, mode: http, pool: web, ${keys} }
pools:
  web: { members: [ { address: 127.0.0.1:${web} } ] }
  api: { members: [ { address: 127.0.0.1:${api} } ] }
`;
}

async function ask(port: number, path: string, headers = ''): Promise<string> {
  const c = await connection(port);
  const got = await c.send(`GET ${path} HTTP/1.1\r\nHost: www.example.com\r\n${headers}\r\n`);
  await c.close();
  return got;
}

const RULES = `headers: {
    request: { set: { X-Client: "{client}", X-Seen: "{method} {scheme}://{host}{path}{query} via {service}/{route}" }, add: { Via: furiwake }, delete: [ X-Debug, X-Forwarded-Proto ] },
    response: { set: { Server: furiwake }, add: { X-Served-By: "{service}" }, delete: [ X-Debug ] } },`;

describeOnEachEngine('http header rules', () => {
  it('sets, adds and deletes request headers toward the member and response headers toward the client, with request parts', async () => {
    const web = await echoMember('web');
    const api = await echoMember('api');
    const app = await startApp(parseConfig(yaml(`${RULES} routes: [ { name: api, match: { path-prefix: /api/ }, pool: api,
      headers: { request: { set: { X-Seen: "route {route}" }, delete: [ Via ] }, response: { set: { X-Route: "{route}" }, delete: [ X-Keep ] } } } ]`, web.port, api.port, 2), 'h.yaml', {}));
    const port = app.address('www').port;

    const got = await ask(port, '/a/b?x=1', 'X-Debug: 1\r\nVia: client-proxy\r\nX-Client: forged\r\n');
    const seen = web.requests[0].headers;
    assert.equal(seen['x-client'], '127.0.0.1');
    assert.equal(seen['x-seen'], 'GET http://www.example.com/a/b?x=1 via www/');
    assert.equal(seen.via, 'client-proxy, furiwake');
    assert.equal(seen['x-debug'], undefined);
    assert.equal(seen['x-forwarded-proto'], undefined);
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.host, 'www.example.com');
    assert.equal(headerOf(got, 'server'), 'furiwake');
    assert.equal(headerOf(got, 'x-served-by'), 'www');
    assert.equal(headerOf(got, 'x-debug'), undefined);
    assert.equal(headerOf(got, 'x-keep'), 'yes');
    assert.equal(bodyOf(got), 'web /a/b?x=1');

    // a route's rules come after the service's: its set wins, and its response rules add to the service's
    const routed = await ask(port, '/api/v1');
    const seenApi = api.requests[0].headers;
    assert.equal(seenApi['x-seen'], 'route api');
    assert.equal(seenApi['x-client'], '127.0.0.1');
    assert.equal(seenApi.via, undefined, 'the route deletes what the service added');
    assert.equal(headerOf(routed, 'x-route'), 'api');
    assert.equal(headerOf(routed, 'server'), 'furiwake');
    assert.equal(headerOf(routed, 'x-keep'), undefined);
  });

  it('applies the rules to HTTP/2 clients (h2c) as to HTTP/1.1 ones', async () => {
    const web = await echoMember('web');
    const app = await startApp(parseConfig(yaml(`http2: { h2c: true }, request-id: { echo: true }, ${RULES}`, web.port, await freePort()), 'h.yaml', {}));
    const session = h2Connect(app.address('www').port, false);
    after(() => session.close());
    const got = await h2Request(session, { ':path': '/h2?q', ':authority': 'h2.example.com', 'x-debug': '1' });
    assert.equal(got.status, 200);
    const seen = web.requests[0].headers;
    assert.equal(seen['x-seen'], 'GET http://h2.example.com/h2?q via www/');
    assert.equal(seen['x-debug'], undefined);
    assert.equal(seen.via, 'furiwake');
    assert.equal(got.headers.server, 'furiwake');
    assert.equal(got.headers['x-served-by'], 'www');
    assert.equal(got.headers['x-debug'], undefined);
    assert.match(String(seen['x-request-id']), /^[0-9a-f]{16}-[0-9a-z]+$/);
    assert.equal(got.headers['x-request-id'], seen['x-request-id']);
  });

  it('gives each request an id when it brings none, keeps a valid one, replaces an invalid one, and logs it', async () => {
    const web = await echoMember('web');
    const { sink, lines } = logSink();
    const app = await Furiwake.start(parseConfig(yaml('request-id: { echo: true },', web.port, await freePort()), 'h.yaml', {}), createLogger('info', sink));
    after(() => app.stop(0));
    const port = app.address('www').port;
    const c = await connection(port);
    const ids = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const got = await c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      const id = web.requests[i].headers['x-request-id'] as string;
      assert.match(id, /^[0-9a-f]{16}-[0-9a-z]+$/);
      assert.equal(headerOf(got, 'x-request-id'), id);
      ids.add(id);
    }
    assert.equal(ids.size, 100);
    // a valid id is passed on as it came
    let got = await c.send('GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: trace-42/abc\r\n\r\n');
    assert.equal(web.requests[100].headers['x-request-id'], 'trace-42/abc');
    assert.equal(headerOf(got, 'x-request-id'), 'trace-42/abc');
    // too long, with a space, or two of them: replaced by one of ours
    for (const bad of [`X-Request-Id: ${'a'.repeat(129)}\r\n`, 'X-Request-Id: a b\r\n', 'X-Request-Id: one\r\nX-Request-Id: two\r\n']) {
      got = await c.send(`GET / HTTP/1.1\r\nHost: x\r\n${bad}\r\n`);
      const seen = web.requests.at(-1)!;
      assert.match(seen.headers['x-request-id'] as string, /^[0-9a-f]{16}-[0-9a-z]+$/, bad);
      assert.equal(seen.rawHeaders.filter((h) => h.toLowerCase() === 'x-request-id').length, 1);
    }
    await c.close();
    const logged = lines.filter((l) => l.msg === 'request');
    assert.equal(logged.length, 104);
    assert.equal(logged[0].requestId, web.requests[0].headers['x-request-id']);
    assert.equal(logged[100].requestId, 'trace-42/abc');
  });

  it('keep-incoming false gives every request a new id; without request-id none is added', async () => {
    const web = await echoMember('web');
    const app = await startApp(parseConfig(yaml('request-id: { header: X-Trace, keep-incoming: false },', web.port, await freePort()), 'h.yaml', {}));
    const got = await ask(app.address('www').port, '/', 'X-Trace: mine\r\n');
    assert.match(web.requests[0].headers['x-trace'] as string, /^[0-9a-f]{16}-/);
    assert.equal(headerOf(got, 'x-trace'), undefined);
    const plain = await echoMember('plain');
    const app2 = await startApp(parseConfig(yaml('', plain.port, await freePort()), 'h.yaml', {}));
    await ask(app2.address('www').port, '/');
    assert.equal(plain.requests[0].headers['x-request-id'], undefined);
  });
});

describeOnEachEngine('http error pages', () => {
  it('serves the page of the status, else the default one, with its content type and length; over HTTP/2 too', async () => {
    const dir = await tempDir('error-pages');
    await writeFile(join(dir, '503.html'), '<h1>Down for maintenance</h1>\n');
    await writeFile(join(dir, 'config.yaml'), yaml(`http2: { h2c: true }, error-pages: {
      503: { file: 503.html },
      403: { body: '{"error":"forbidden"}', content-type: application/json },
      default: { body: "Sorry. ✓" } },
      routes: [ { name: closed, match: { path: /closed }, deny: true }, { name: teapot, match: { path: /tea }, respond: { status: 418, body: "own" } } ]`, await freePort(), await freePort()));
    const app = await startApp(await loadConfig(join(dir, 'config.yaml'), {}));
    const port = app.address('www').port;
    for (const m of app.runtime.pools.get('web')!.members) m.setHealth('down', 'test');

    const down = await ask(port, '/');
    assert.match(down, /^HTTP\/1.1 503 /);
    assert.equal(headerOf(down, 'content-type'), 'text/html; charset=utf-8');
    assert.equal(headerOf(down, 'retry-after'), '1');
    assert.equal(bodyOf(down), '<h1>Down for maintenance</h1>\n');
    assert.equal(headerOf(down, 'content-length'), String(Buffer.byteLength(bodyOf(down))));

    const denied = await ask(port, '/closed');
    assert.match(denied, /^HTTP\/1.1 403 /);
    assert.equal(headerOf(denied, 'content-type'), 'application/json');
    assert.equal(bodyOf(denied), '{"error":"forbidden"}');

    // a request furiwake cannot read gets the default page (UTF-8, its length in bytes)
    const bad = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n');
    assert.equal(bad.status, 400);
    assert.equal(headerOf(bad.text, 'content-type'), 'text/plain; charset=utf-8');
    assert.equal(Buffer.from(bodyOf(bad.text), 'latin1').toString('utf8'), 'Sorry. ✓');
    assert.equal(headerOf(bad.text, 'content-length'), String(Buffer.byteLength('Sorry. ✓')));

    // a route's own answer is not an error page
    assert.equal(bodyOf(await ask(port, '/tea')), 'own');

    const session = h2Connect(port, false);
    after(() => session.close());
    const h2 = await h2Request(session, { ':path': '/' });
    assert.equal(h2.status, 503);
    assert.equal(h2.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(h2.body.toString(), '<h1>Down for maintenance</h1>\n');
  });

  it('a reload reads the page files again and applies new rules to the next request (two worker threads)', async () => {
    const web = await echoMember('web');
    const dir = await tempDir('error-pages');
    const file = join(dir, 'config.yaml');
    const api = await freePort();
    const text = (rule: string) => yaml(`error-pages: { 403: { file: denied.html } }, headers: { request: { set: { X-Rule: ${rule} } } },
      routes: [ { name: closed, match: { path: /closed }, deny: true } ]`, web.port, api, 2);
    await writeFile(join(dir, 'denied.html'), '<p>first</p>');
    await writeFile(file, text('one'));
    const app = await startApp(await loadConfig(file, {}));
    const port = app.address('www').port;
    assert.equal(bodyOf(await ask(port, '/closed')), '<p>first</p>');
    await ask(port, '/');
    assert.equal(web.requests.at(-1)!.headers['x-rule'], 'one');

    await writeFile(join(dir, 'denied.html'), '<p>second</p>');
    await writeFile(file, text('two'));
    await app.reload(await loadConfig(file, {}));
    // each new connection may reach either thread: both have the new config
    for (let i = 0; i < 4; i++) {
      assert.equal(bodyOf(await ask(port, '/closed')), '<p>second</p>');
      await ask(port, '/');
      assert.equal(web.requests.at(-1)!.headers['x-rule'], 'two');
    }
  });

  it('a missing or too large page file stops the load with its path', async () => {
    const dir = await tempDir('error-pages');
    await writeFile(join(dir, 'big.html'), 'x'.repeat(64 * 1024 + 1));
    await writeFile(join(dir, 'config.yaml'), yaml('error-pages: { 502: { file: gone.html }, 504: { file: big.html } },', 1, 2));
    await assert.rejects(loadConfig(join(dir, 'config.yaml'), {}), (err: Error) => {
      assert.match(err.message, /services\.www\.error-pages\.502\.file: cannot read gone\.html: no such file/);
      assert.match(err.message, /services\.www\.error-pages\.504\.file: big\.html is 65537 bytes; an error page is at most 65536 bytes/);
      return true;
    });
  });
});

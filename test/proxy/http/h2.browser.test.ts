// Chromium over HTTP/2: headless Chromium (Debian's, driven by playwright-core) loads a small
// page with a stylesheet, a script, an image and a fetch() through an https service offering h2
// in ALPN, in front of two HTTP/1.1 members. The page must run (its script fills the page from
// the fetched JSON), Chromium must say every resource came over h2, and furiwake's access log
// must record each request as HTTP/2, spread over both members.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Furiwake } from '../../../src/app.ts';
import { createLogger } from '../../../src/log.ts';
import { logSink } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { until } from '../../helpers/wait.ts';
import { h2Cert } from './h2-helpers.ts';
import { httpConfig, startMember, type MemberHandler } from './helpers.ts';

/** The little of the DOM the page functions below use (this project's TypeScript has no DOM types). */
declare const document: { querySelector(selector: string): { textContent: string | null } | null };
declare const performance: { getEntriesByType(type: string): { name: string; nextHopProtocol: string }[] };

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // the service's certificate is self-signed for www.h2.test; the name is resolved to loopback
  '--ignore-certificate-errors', '--host-resolver-rules=MAP www.h2.test 127.0.0.1'];

const FILES: Record<string, [string, string]> = {
  '/': ['text/html; charset=utf-8', `<!doctype html>
<html><head><meta charset="utf-8"><title>furiwake h2</title>
<link rel="stylesheet" href="/style.css"><link rel="icon" href="data:,">
</head><body>
<h1 id="title">loading</h1><img src="/logo.svg" width="32" height="32" alt="logo"><p id="members"></p>
<script src="/app.js"></script>
</body></html>`],
  '/style.css': ['text/css', 'h1 { color: #334; } img { display: block; }'],
  '/logo.svg': ['image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><circle cx="16" cy="16" r="12" fill="teal"/></svg>'],
  '/app.js': ['text/javascript', `
    Promise.all([1, 2, 3, 4].map((n) => fetch('/api/data?n=' + n).then((r) => r.json()))).then((answers) => {
      document.getElementById('members').textContent = answers.map((a) => a.member).join(',');
      document.getElementById('title').textContent = 'loaded ' + answers.length;
    });`],
};

/** A member serving the page's files, and JSON naming itself at /api/data. */
function site(name: string): MemberHandler {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/api/data') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return res.end(JSON.stringify({ member: name }));
    }
    const file = FILES[path];
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' });
    res.end(file[1]);
  };
}

describe('Chromium over HTTP/2 through an https service', () => {
  let context: BrowserContext;
  let profile: string;
  const problems: string[] = [];

  before(async () => {
    profile = mkdtempSync(join(tmpdir(), 'furiwake-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await context?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  });

  /** Two members behind an https service offering h2, with the access log kept (one loop) or on `workers` threads. */
  async function start(workers?: number) {
    const a = await startMember('a', site('a'));
    const b = await startMember('b', site('b'));
    const c = h2Cert();
    const tls = { certificates: [{ certFile: c.cert, keyFile: c.key, cert: c.certPem, key: c.keyPem, names: ['www.h2.test'] }], minVersion: 'TLSv1.2' as const, alpn: ['h2', 'http/1.1'] as ('h2' | 'http/1.1')[] };
    const config = httpConfig(pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }]), { tls });
    const { sink, lines } = logSink();
    const app = await Furiwake.start(workers === undefined ? config : { ...config, global: { ...config.global, workers } }, createLogger('info', sink));
    after(() => app.stop(0));
    return { a, b, sink, lines, port: app.address('svc').port };
  }

  /** Loads the page in a new tab until its script has run; each resource's path and the protocol Chromium fetched it with. */
  async function load(port: number): Promise<{ page: Page; entries: string[][] }> {
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    const response = await page.goto(`https://www.h2.test:${port}/`);
    assert.equal(response?.status(), 200);
    await page.waitForFunction(() => document.querySelector('#title')?.textContent === 'loaded 4');
    assert.deepEqual(problems, []);
    // (the document itself is a navigation entry)
    const entries = await page.evaluate(() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
      .map((e) => [new URL(e.name).pathname, e.nextHopProtocol]));
    for (const [path, protocol] of entries) assert.equal(protocol, 'h2', `${path} came over ${protocol}`);
    return { page, entries };
  }

  it('loads a page with its sub-resources over h2 from HTTP/1.1 members; the access log says HTTP/2 for each request', async () => {
    const { a, b, sink, lines, port } = await start();
    const { page, entries } = await load(port);
    const paths = entries.map(([path]) => path).sort();
    assert.deepEqual(paths, ['/', '/api/data', '/api/data', '/api/data', '/api/data', '/app.js', '/logo.svg', '/style.css']);

    // furiwake's side: every request of the page logged as HTTP/2, answered by both members
    const requests = (): Record<string, unknown>[] => lines.filter((l) => l.msg === 'request');
    await until(() => requests().length >= 8, sink, 'line');
    const logged = requests();
    assert.deepEqual(logged.map((l) => l.path as string).map((p) => p.split('?')[0]).sort(), paths);
    for (const line of logged) assert.equal(line.protocol, 'HTTP/2', `${String(line.path)} logged as ${String(line.protocol)}`);
    assert.deepEqual(new Set(logged.map((l) => l.member)), new Set(['a', 'b']));
    // the members were spoken to in HTTP/1.1, with the Host from :authority
    for (const seen of [...a.requests, ...b.requests]) assert.equal(seen.headers.host, `www.h2.test:${port}`);
    const text = await page.evaluate(() => document.querySelector('#members')?.textContent);
    assert.match(text ?? '', /^[ab](,[ab]){3}$/);
    await page.close();
  });

  it('does the same with the service on two worker threads', async () => {
    const { a, b, port } = await start(2);
    const { page, entries } = await load(port);
    assert.equal(entries.length, 8);
    // whichever worker took the connection balanced its requests over both members
    assert.equal(a.requests.length + b.requests.length, 8);
    assert.ok(a.requests.length > 0 && b.requests.length > 0);
    await page.close();
  });
});

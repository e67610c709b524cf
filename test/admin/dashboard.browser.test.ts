// The dashboard end to end, in headless Chromium (Debian's, driven by playwright-core): the page
// loads with no console error, a member whose server is stopped turns down at its next check
// (counted, not timed), and the drain button — used from the keyboard, asking for the token — drains a
// member, which is checked on the data plane; an http service shows its split by protocol.
// Screenshots go to artifacts/ for people to look at.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Config } from '../../src/config/types.ts';
import { greeted, greeting } from '../helpers/clients.ts';
import { pool, service } from '../helpers/config.ts';
import type { Member } from '../../src/runtime/member.ts';
import { memberHealth } from '../helpers/app.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { h2Connect, h2Request } from '../proxy/http/h2-helpers.ts';
import { connection } from '../proxy/http/helpers.ts';
import { startAdminApp, TOKEN } from './helpers.ts';
import { protocolConfig } from './protocol-helpers.ts';

/** The little of the DOM the page functions below use (this project's TypeScript has no DOM types). */
declare const document: {
  activeElement: { id: string; getAttribute(name: string): string | null } | null;
  querySelector(selector: string): { textContent: string | null } | null;
};

const ARTIFACTS = new URL('../../artifacts/', import.meta.url);
/** The tcp monitor's interval. */
const INTERVAL = 2_000;

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('dashboard in Chromium', () => {
  let context: BrowserContext;
  let profile: string;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'furiwake-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1440, height: 900 },
    });
    page = context.pages()[0] ?? await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  });

  after(async () => {
    await context?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  });

  async function start() {
    const [a, b, c] = [await startTcpServer('a'), await startTcpServer('b'), await startTcpServer('c')];
    const web = pool('round-robin', [{ port: a.port, id: 'a', weight: 2 }, { port: b.port, id: 'b' }, { port: c.port, id: 'c' }], {}, {
      health: {
        require: { kind: 'all' },
        monitors: [{ type: 'tcp', interval: INTERVAL, fastInterval: INTERVAL, timeout: 1_000, rise: 1, fall: 1, port: null, send: null, expect: null }],
        agent: null,
        initialState: 'up',
      },
    });
    const config: Config = {
      global: { shutdownGrace: 0, logLevel: 'silent' },
      services: {
        www: service('tcp', 'web'),
        sticky: service('tcp', 'web', { persistence: { method: 'source-ip', whenFull: 'repin', mask: 24, mask6: 64, timeout: 600_000, maxEntries: 1000 } }),
      },
      pools: { web },
    };
    const { app, base } = await startAdminApp(config);
    return { app, base, a, b, c, port: app.address('www').port, sticky: app.address('sticky').port };
  }

  it('shows the pools live, turns a stopped member down at its next check, drains from the keyboard', async () => {
    const { app, base, a, b, c, port, sticky } = await start();
    const live = [await greeted(port), await greeted(port), await greeted(port)];

    await page.goto(`${base}/`);
    await page.locator('#live[data-state="live"]').waitFor();
    const row = (id: string) => page.locator(`tr[data-member="${id}"]`);
    await row('c').waitFor();
    assert.deepEqual(await page.locator('#pool-list tr[data-member]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status'))), ['up', 'up', 'up']);
    for (const id of ['a', 'b', 'c']) await row(id).locator('.check-type', { hasText: '✓ tcp' }).waitFor();
    assert.match(await page.locator('#connections').innerText(), new RegExp(`127\\.0\\.0\\.1:${live[0].socket.localPort}\\s*→\\s*127\\.0\\.0\\.1:${port}\\s*⇒`));
    // some traffic, paced by the page's own snapshots, so the sparklines have something to draw
    await greeting(sticky);
    for (let second = 1; second <= 4; second++) {
      const uptime = await page.locator('#sum-uptime').innerText();
      for (let i = 0; i < second * 2; i++) await greeting(port);
      await page.waitForFunction((u) => document.querySelector('#sum-uptime')?.textContent !== u, uptime);
    }
    await page.screenshot({ path: new URL('dashboard-overview.png', ARTIFACTS).pathname, fullPage: true });

    // the server behind c stops: its tcp monitor fails (fall 1) at its next check, or the one
    // after when a check was under way as it stopped; the page then shows what the runtime says
    let checks = 0;
    const onCheck = (m: Member): void => void (m === app.runtime.member('web', 'c') && checks++);
    app.health.events.on('check', onCheck);
    await c.close();
    await memberHealth(app, 'web', 'c', 'down');
    app.health.events.off('check', onCheck);
    assert.ok(checks <= 2, `c turned down after ${checks} checks, more than two`);
    await row('c').and(page.locator('[data-status="down"]')).waitFor();
    assert.match(await row('c').locator('.check-reason').innerText(), /refused/);
    assert.equal(await page.locator('#sum-members').innerText(), '2 / 3');
    await page.screenshot({ path: new URL('dashboard-member-down.png', ARTIFACTS).pathname, fullPage: true });

    // drain a from the keyboard: focus its button, Enter, the token dialog asks, type, Enter
    const drain = page.getByRole('button', { name: 'drain web/a' });
    await drain.focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('#token-dialog');
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'token-input');
    await page.keyboard.type(TOKEN);
    await page.screenshot({ path: new URL('dashboard-token.png', ARTIFACTS).pathname });
    await page.keyboard.press('Enter');
    await row('a').and(page.locator('[data-status="drain"]')).waitFor();
    assert.match(await page.locator('#toast').innerText(), /web\/a is draining/);
    assert.equal(app.runtime.member('web', 'a')!.admin, 'drain');
    assert.equal(await row('a').getByRole('button', { name: 'drain web/a' }).isDisabled(), true);
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
    assert.equal(await focused(), 'enable web/a', 'focus moves to the button that undoes the drain');
    // the snapshots that follow redraw the rows in place: focus stays where it is
    const uptime = await page.locator('#sum-uptime').innerText();
    await page.waitForFunction((u) => document.querySelector('#sum-uptime')?.textContent !== u, uptime);
    assert.equal(await focused(), 'enable web/a');
    await page.screenshot({ path: new URL('dashboard-drained.png', ARTIFACTS).pathname, fullPage: true });

    // on the data plane: no new connection reaches a; its live connections stay
    const acceptedBefore = a.accepted;
    const lines = [];
    for (let i = 0; i < 6; i++) lines.push(await greeting(port));
    assert.deepEqual(lines, ['b', 'b', 'b', 'b', 'b', 'b']);
    assert.equal(a.accepted, acceptedBefore);
    assert.ok(b.accepted >= 6);
    assert.equal(app.runtime.member('web', 'a')!.active, live.filter((l) => l.line === 'a').length);

    // the stick table of `sticky`: search it by key, forget the client
    await page.locator('#stick-summary-table').waitFor();
    assert.match(await page.locator('#stick-summary').innerText(), /sticky\s+source-ip\s+1\s+1000/);
    await page.locator('#stick-key').fill('127.0.0');
    await page.keyboard.press('Enter');
    const entry = page.locator('#stick-entries tr', { hasText: '127.0.0.0/24' });
    await entry.waitFor();
    assert.match(await entry.innerText(), /127\.0\.0\.0\/24\s+web\/[abc]/);
    await page.screenshot({ path: new URL('dashboard-stick.png', ARTIFACTS).pathname, fullPage: true });
    await entry.getByRole('button', { name: 'forget 127.0.0.0/24' }).click();
    await page.locator('#stick-entries td.empty', { hasText: 'No entry matches.' }).waitFor();
    assert.equal(app.runtime.services.get('sticky')!.stickTable!.size, 0);

    // wait for a snapshot, so the counts include the connections above
    const shown = await page.locator('#sum-uptime').innerText();
    await page.waitForFunction((u) => document.querySelector('#sum-uptime')?.textContent !== u, shown);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: new URL('dashboard-dark.png', ARTIFACTS).pathname, fullPage: true });
    for (const l of live) l.socket.destroy();
    assert.deepEqual(problems, [], 'no console error or warning');
  });

  it('asks for the token before it shows anything when reads need it', async () => {
    const a = await startTcpServer('a');
    const config: Config = { global: { shutdownGrace: 0, logLevel: 'silent' }, services: { www: service('tcp', 'web') }, pools: { web: pool('round-robin', [{ port: a.port, id: 'a' }]) } };
    const { base } = await startAdminApp(config, { readTokenRequired: true });
    const tab = await context.newPage(); // a new tab: its sessionStorage holds no token
    const seen: string[] = [];
    tab.on('console', (m) => seen.push(`${m.type()}: ${m.text()}`));
    tab.on('pageerror', (err) => seen.push(`page error: ${err.message}`));
    await tab.goto(`${base}/`);
    await tab.locator('#token-dialog[open]').waitFor();
    assert.match(await tab.locator('#token-why').innerText(), /Reading this furiwake needs the admin token/);
    assert.equal(await tab.locator('#pool-list tr[data-member]').count(), 0);
    await tab.locator('#token-input').fill(TOKEN);
    await tab.keyboard.press('Enter');
    await tab.locator('tr[data-member="a"][data-status="up"]').waitFor();
    await tab.locator('#live[data-state="live"]').waitFor();
    // the one refused read is the browser's own note of a 401, nothing else
    assert.deepEqual(seen.filter((t) => !/status of 401/.test(t)), []);
    await tab.close();
  });

  it("shows an http service's connections and requests by HTTP version, and by member protocol in the title", async () => {
    const { app, base } = await startAdminApp(await protocolConfig());
    const port = app.address('svc').port;
    const session = h2Connect(port, false);
    after(() => session.close());
    for (let i = 0; i < 3; i++) assert.equal((await h2Request(session, { ':path': '/h2c/a' })).status, 200);
    assert.equal((await h2Request(session, { ':path': '/none' })).status, 404);
    const kept = await connection(port);
    after(() => kept.close());
    for (let i = 0; i < 2; i++) await kept.send('GET / HTTP/1.1\r\nHost: h\r\n\r\n', (got) => got.endsWith('h1 GET /'));

    const tab = await context.newPage();
    const seen: string[] = [];
    tab.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') seen.push(`${m.type()}: ${m.text()}`); });
    await tab.goto(`${base}/`);
    await tab.locator('#live[data-state="live"]').waitFor();
    const row = tab.locator('tr[data-service="svc"]');
    await row.locator('[data-protocols="requests"]', { hasText: 'HTTP/1 2 · HTTP/2 4' }).waitFor();
    assert.match(await row.locator('[data-protocols="connections"]').innerText(), /HTTP\/1 1 · HTTP\/2 1/);
    const why = await row.locator('[data-protocols="requests"]').getAttribute('title');
    assert.deepEqual(why?.split('\n').sort(), ['HTTP/1.1 → http1: 2', 'HTTP/2 → answered by furiwake: 1', 'HTTP/2 → h2c: 3']);
    assert.deepEqual(seen, [], 'no console error or warning');
    await tab.close();
  });
});

// The dashboard's HA panel in headless Chromium: hidden on a furiwake that is not part of a pair;
// on a node of a pair it shows the role, VIPs, keepalived, the replication link and conntrackd,
// follows changes with the snapshots, and its button hands the VIPs over and takes them back
// with the token. The node behind the admin plane is a stand-in for the keepalived supervisor
// (test/admin/ha-node.ts): furiwake, its admin plane, the page and the browser are real.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Config } from '../../src/config/types.ts';
import { pool, service } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { adminWithHa, StandInHaNode } from './ha-node.ts';
import { startAdminApp, TOKEN } from './helpers.ts';

const ARTIFACTS = new URL('../../artifacts/', import.meta.url);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('dashboard HA panel in Chromium', () => {
  let context: BrowserContext;
  let profile: string;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'furiwake-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1440, height: 900 },
    });
  });

  after(async () => {
    await context?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  });

  async function start() {
    const a = await startTcpServer('a');
    const config: Config = { global: { shutdownGrace: 0, logLevel: 'silent' }, services: { www: service('tcp', 'web') }, pools: { web: pool('round-robin', [{ port: a.port, id: 'a' }]) } };
    return startAdminApp(config);
  }

  /** A fresh tab (no token in its sessionStorage) that records console errors and warnings. */
  async function tab(problems: string[]): Promise<Page> {
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    return page;
  }

  /** Resolves after the page has drawn the next snapshot (its uptime text changes each second). */
  async function nextSnapshot(page: Page): Promise<void> {
    const uptime = await page.locator('#sum-uptime').innerText();
    await page.waitForFunction((u) => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector('#sum-uptime')?.textContent !== u, uptime);
  }

  it('stays hidden on a furiwake without an ha section, asking nothing of /api/v1/ha', async () => {
    const { base } = await start();
    const problems: string[] = [];
    const page = await tab(problems);
    const asked: string[] = [];
    page.on('request', (r) => void (r.url().includes('/api/v1/ha') && asked.push(r.url())));
    await page.goto(`${base}/`);
    await page.locator('#live[data-state="live"]').waitFor();
    await nextSnapshot(page);
    await nextSnapshot(page);
    assert.equal(await page.locator('#ha').isHidden(), true);
    assert.deepEqual(asked, []);
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('shows the node, follows it, and hands over and takes back with the token', async () => {
    const { app } = await start();
    const node = new StandInHaNode();
    const base = await adminWithHa(app, node);
    const problems: string[] = [];
    const page = await tab(problems);
    await page.goto(`${base}/`);
    await page.locator('#ha').waitFor();
    assert.equal(await page.locator('#ha-role').getAttribute('data-role'), 'master');
    assert.equal(await page.locator('#ha-role').innerText(), 'MASTER');
    assert.match(await page.locator('#ha-meaning').innerText(), /holds the VIPs and serves them/);
    assert.match(await page.locator('#ha-vips').innerText(), /192\.0\.2\.100\s+2001:db8::100/);
    assert.equal(await page.locator('#ha-router').innerText(), 'eth0, router-id 7');
    assert.equal(await page.locator('#ha-priority').innerText(), '150');
    assert.equal(await page.locator('#ha-fit').innerText(), 'fit');
    assert.equal(await page.locator('#ha-keepalived').innerText(), 'running (pid 4242), 1 restart');
    assert.equal(await page.locator('#ha-conntrack').innerText(), 'running (pid 4343), 0 restarts');
    assert.match(await page.locator('#ha-transitions li').first().innerText(), /backup → master\s+\d+s ago: no advertisement from a peer of higher priority/);
    assert.match(await page.locator('#ha-sync-peers').innerText(), /10\.0\.0\.2:7400\s+connected\s+\d+s ago\s+1200\s+800\s+0/);
    await page.screenshot({ path: new URL('dashboard-ha-master.png', ARTIFACTS).pathname, fullPage: true });

    // what the node says next shows with a following snapshot: unfit, a peer link down, no conntrackd
    node.current.vrrp!.unfit = 'no usable member in pool web';
    node.current.vrrp!.role = 'fault';
    node.current.sync!.peers[0].connected = false;
    node.current.conntrack = null;
    await page.locator('#ha-role[data-role="fault"]').waitFor();
    await page.locator('#ha-fit[data-unfit="true"]', { hasText: 'unfit: no usable member in pool web' }).waitFor();
    await page.locator('#ha-sync-peers', { hasText: 'not connected' }).waitFor();
    assert.equal(await page.locator('#ha-conntrack-row').isHidden(), true);
    node.current.vrrp!.unfit = null;
    node.current.vrrp!.role = 'master';
    await page.locator('#ha-role[data-role="master"]').waitFor();

    // hand over from the keyboard: the token dialog asks first
    const button = page.getByRole('button', { name: 'hand the VIPs over to the peer' });
    await button.focus();
    await page.keyboard.press('Enter');
    await page.locator('#token-dialog[open]').waitFor();
    await page.keyboard.type(TOKEN);
    await page.keyboard.press('Enter');
    await page.locator('#ha-role[data-role="fault"]').waitFor();
    assert.deepEqual(node.asked, [true]);
    assert.match(await page.locator('#toast').innerText(), /Handed over: the peer takes the VIPs/);
    assert.equal(await page.locator('#ha-handed').innerText(), 'yes: the VIPs stay with the peer until taken back');
    assert.equal(await page.locator('#ha-meaning').innerText(), 'This node has handed the VIPs over to the peer and keeps away from them until taken back.');
    assert.match(await page.locator('#ha-transitions li').first().innerText(), /master → fault\s+\d+s ago: handed over by an operator/);
    await page.screenshot({ path: new URL('dashboard-ha-handed-over.png', ARTIFACTS).pathname, fullPage: true });

    // take back: the token is kept in the tab
    await page.getByRole('button', { name: 'take the VIPs back from the peer' }).click();
    await page.locator('#ha-role[data-role="master"]').waitFor();
    assert.deepEqual(node.asked, [true, false]);
    assert.equal(await page.locator('#ha-handover').innerText(), 'Hand over');

    // the section leaves the config (a reload): the panel hides with the next snapshot
    node.present = false;
    await page.locator('#ha').waitFor({ state: 'hidden' });
    assert.deepEqual(problems, [], 'no console error or warning');
    await page.close();
  });
});

// The keepalived config furiwake writes from its `ha` section: text in, text out.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { execFileSync } from 'node:child_process';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { advertSeconds, aliveScript, renderKeepalivedConfig, vipsOf } from '../../src/ha/keepalived-config.ts';
import { tempDir } from '../helpers/files.ts';

const PATHS = { fifo: '/run/furiwake/ha-1-51/notify.fifo', trackFile: '/run/furiwake/ha-1-51/unfit', aliveScript: '/run/furiwake/ha-1-51/alive.sh' };

function config(ha: string, services = '  www: { listen: "192.0.2.10:80", mode: tcp, pool: web }\n  v6: { listen: "[2001:db8::10]:80", mode: tcp, pool: web }\n  any: { listen: "0.0.0.0:81", mode: tcp, pool: web }\n  local: { listen: "127.0.0.1:82", mode: tcp, pool: web }\n  again: { listen: "192.0.2.10:443", mode: tcp, pool: web }\n') {
  return parseConfig(`ha:\n${ha}services:\n${services}pools:\n  web: { members: [ { address: "10.1.0.1:80" } ] }\n`, 'test.yaml', {});
}

function render(ha: string): string {
  const c = config(ha);
  return renderKeepalivedConfig({ ha: c.ha!, vips: vipsOf(c), paths: PATHS });
}

/** The lines of the block that starts with `head {`, without their indentation. */
function block(text: string, head: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `${head} {`);
  assert.ok(start >= 0, `no block ${head}`);
  const out: string[] = [];
  let depth = 1;
  for (const line of lines.slice(start + 1)) {
    depth += (line.match(/\{/g)?.length ?? 0) - (line.match(/\}/g)?.length ?? 0);
    if (depth === 0) break;
    out.push(line.trim());
  }
  return out;
}

describe('keepalived config', () => {
  it('takes every service address that is neither a wildcard nor loopback as a VIP, once each', () => {
    assert.deepEqual(vipsOf(config('  interface: eth0\n  router-id: 51\n')), ['192.0.2.10', '2001:db8::10']);
    assert.deepEqual(vipsOf(config('  interface: eth0\n  router-id: 51\n  vips: [ 198.51.100.1 ]\n')), ['198.51.100.1']);
  });

  it('writes one instance per family in a sync group, every node a BACKUP, with the checks that give the VIPs away', () => {
    const text = render('  interface: eth0\n  router-id: 51\n  priority: 150\n  advert: 100ms\n');
    assert.deepEqual(block(text, 'global_defs'), ['router_id furiwake_51', 'enable_script_security', 'script_user root',
      `vrrp_notify_fifo "${PATHS.fifo}"`, 'vrrp_version 3']);
    assert.doesNotMatch(text, /smtp|notification_email/);
    assert.deepEqual(block(text, 'track_file furiwake_fit'), [`file "${PATHS.trackFile}"`, 'weight 0']);
    assert.deepEqual(block(text, 'vrrp_script furiwake_alive'), ['script "/run/furiwake/ha-1-51/alive.sh"', 'interval 1', 'timeout 1', 'rise 1', 'fall 1']);
    assert.deepEqual(block(text, 'vrrp_sync_group furiwake'), ['group {', 'furiwake_4', 'furiwake_6', '}']);
    assert.deepEqual(block(text, 'vrrp_instance furiwake_4'), ['state BACKUP', 'interface eth0', 'virtual_router_id 51', 'priority 150',
      'advert_int 0.1', 'virtual_ipaddress {', '192.0.2.10/32 dev eth0', '}', 'track_file {', 'furiwake_fit', '}',
      'track_script {', 'furiwake_alive', '}']);
    assert.deepEqual(block(text, 'vrrp_instance furiwake_6').slice(0, 7), ['state BACKUP', 'interface eth0', 'virtual_router_id 51',
      'priority 150', 'advert_int 0.1', 'virtual_ipaddress {', '2001:db8::10/128 dev eth0']);
  });

  it('writes nopreempt when preempt is off, and each family its own unicast peers', () => {
    const text = render('  interface: front0\n  router-id: 7\n  preempt: false\n  peers: [ 10.0.0.2, "fd00::2" ]\n');
    const v4 = block(text, 'vrrp_instance furiwake_4');
    assert.ok(v4.includes('nopreempt'));
    assert.ok(v4.includes('advert_int 1'));
    assert.deepEqual(v4.slice(v4.indexOf('unicast_peer {'), v4.indexOf('unicast_peer {') + 3), ['unicast_peer {', '10.0.0.2', '}']);
    const v6 = block(text, 'vrrp_instance furiwake_6');
    assert.deepEqual(v6.slice(v6.indexOf('unicast_peer {'), v6.indexOf('unicast_peer {') + 3), ['unicast_peer {', 'fd00::2', '}']);
  });

  it('puts a VIP of another network on the interface it is given (the members\' gateway behind)', () => {
    const c = config('  interface: eth0\n  router-id: 51\n  vips: [ 192.0.2.10, 10.0.2.254 ]\n');
    const text = renderKeepalivedConfig({ ha: c.ha!, vips: vipsOf(c), paths: PATHS, devices: new Map([['10.0.2.254', 'eth1']]) });
    const v4 = block(text, 'vrrp_instance furiwake_4');
    assert.deepEqual(v4.slice(v4.indexOf('virtual_ipaddress {'), v4.indexOf('virtual_ipaddress {') + 4),
      ['virtual_ipaddress {', '192.0.2.10/32 dev eth0', '10.0.2.254/32 dev eth1', '}']);
  });

  it('writes no sync group and no instance for a family without VIPs', () => {
    const text = render('  interface: eth0\n  router-id: 51\n  vips: [ 198.51.100.1 ]\n');
    assert.doesNotMatch(text, /vrrp_sync_group|furiwake_6/);
    assert.match(text, /vrrp_instance furiwake_4/);
    assert.doesNotMatch(text, /nopreempt|unicast_peer/);
  });

  it('counts the advertisement interval in seconds with centisecond steps', () => {
    assert.equal(advertSeconds(1_000), '1');
    assert.equal(advertSeconds(100), '0.1');
    assert.equal(advertSeconds(10), '0.01');
    assert.equal(advertSeconds(1_250), '1.25');
    assert.equal(advertSeconds(40_950), '40.95');
  });

  it('checks that furiwake is alive: its process there and its heartbeat fresh', async () => {
    const dir = await tempDir('furiwake-alive-');
    const heartbeat = join(dir, 'heartbeat');
    const script = join(dir, 'alive.sh');
    const passes = (pid: number): boolean => {
      writeFileSync(script, aliveScript(pid, heartbeat), { mode: 0o700 });
      try {
        execFileSync('/bin/sh', [script], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    };
    assert.equal(passes(process.pid), false, 'no heartbeat yet');
    writeFileSync(heartbeat, '');
    assert.equal(passes(process.pid), true);
    const old = new Date(Date.now() - 10_000);
    utimesSync(heartbeat, old, old);
    assert.equal(passes(process.pid), false, 'a stalled loop');
    utimesSync(heartbeat, new Date(), new Date());
    // a pid that no process has (above the kernel's pid_max)
    assert.equal(passes(4_194_305), false, 'furiwake gone');
    assert.throws(() => aliveScript(1, "/tmp/it's"), /cannot write/);
  });

  it('refuses a path with anything keepalived or the shell would read as syntax (FURIWAKE_RUN_DIR is the operator\'s)', () => {
    const c = config('  interface: eth0\n  router-id: 51\n');
    for (const dir of ['/run/a#b', '/run/a!b', '/run/$HOME', '/run/a{b', '/run/a}b', '/run/a;b', '/run/a`b`', '/run/a b', '/run/a"b', '/run/~x', 'relative']) {
      const paths = { fifo: `${dir}/notify.fifo`, trackFile: `${dir}/unfit`, aliveScript: `${dir}/alive.sh` };
      assert.throws(() => renderKeepalivedConfig({ ha: c.ha!, vips: vipsOf(c), paths }), /cannot write .* into keepalived's config/, dir);
      assert.throws(() => aliveScript(1, `${dir}/heartbeat`), /cannot write/, dir);
    }
    const fine = '/run/furiwake/ha-4026531840-51_x.y@z:1+2,3=4-5';
    renderKeepalivedConfig({ ha: c.ha!, vips: vipsOf(c), paths: { fifo: `${fine}/notify.fifo`, trackFile: `${fine}/unfit`, aliveScript: `${fine}/alive.sh` } });
  });
});

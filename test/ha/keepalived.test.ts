// The supervisor of keepalived, with a stand-in keepalived (fake-keepalived.ts) so that no root is
// needed: the config it writes, the role it follows on the notify FIFO, the track file it writes
// when every pool behind the VIPs has no usable member or an operator hands over, a reload that
// changes the VIPs (SIGHUP), a keepalived that dies (started again) and the stop (SIGTERM).

import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { KeepalivedSupervisor } from '../../src/ha/keepalived.ts';
import { createLogger } from '../../src/log.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { logSink } from '../helpers/app.ts';
import { tempDir } from '../helpers/files.ts';
import { until } from '../helpers/wait.ts';

const FAKE = fileURLToPath(new URL('./fake-keepalived.ts', import.meta.url));

function config(vips = '') {
  return parseConfig(`ha: { interface: eth0, router-id: 9, priority: 120${vips} }
services:
  www: { listen: "192.0.2.10:80", mode: tcp, pool: web }
  other: { listen: "127.0.0.1:81", mode: tcp, pool: spare }
pools:
  web: { members: [ { address: "10.1.0.1:80", id: a }, { address: "10.1.0.2:80", id: b } ] }
  spare: { members: [ { address: "10.1.0.3:80" } ] }
`, 'test.yaml', {});
}

describe('keepalived supervisor', () => {
  let dir: string;
  let binary: string;
  const { sink, lines } = logSink();
  const log = createLogger('debug', sink);
  const runtime = new Runtime();
  let supervisor: KeepalivedSupervisor;
  const told: string[] = [];
  const said = (msg: string, from = 0): Promise<void> => until(() => lines.slice(from).some((l) => l.msg === msg || l.keepalived === msg));
  const track = async (): Promise<string> => (await readFile(join(dir, 'unfit'), 'utf8')).trim();

  before(async () => {
    dir = await tempDir('furiwake-ha-');
    binary = join(dir, 'keepalived');
    await writeFile(binary, `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" "$@"\n`);
    await chmod(binary, 0o755);
    const c = config();
    runtime.apply(c);
    supervisor = new KeepalivedSupervisor(c, runtime, log, { binary, stateDir: dir, onTransition: (t) => told.push(t.to) });
    await supervisor.start();
  });
  after(async () => {
    await supervisor?.stop();
    runtime.close();
  });

  it('writes the config, starts keepalived with its own pid files and follows its role', async () => {
    const conf = await readFile(join(dir, 'keepalived.conf'), 'utf8');
    assert.match(conf, /virtual_router_id 9\n {2}priority 120\n/);
    assert.match(conf, /192\.0\.2\.10\/32 dev eth0/);
    assert.doesNotMatch(conf, /127\.0\.0\.1/, 'a loopback service address is no VIP');
    await until(() => supervisor.status().role === 'master');
    const status = supervisor.status();
    assert.equal(status.keepalived.running, true);
    assert.equal(status.keepalived.restarts, 0);
    assert.deepEqual(status.transitions.map((t) => t.to), ['init', 'backup', 'master']);
    assert.deepEqual(told, ['init', 'backup', 'master'], 'each change is told as it comes');
    assert.equal(status.transitions[2].reason, 'elected: no peer of higher priority is advertising');
    assert.equal(supervisor.roles.counts.get('master'), 1);
    assert.equal(await track(), '0');
    const started = lines.find((l) => l.msg === 'ha: keepalived started')!;
    assert.equal(started.pid, status.keepalived.pid);
  });

  it('is unfit once every pool behind the VIPs has no usable member, fit again when one comes back', async () => {
    const a = runtime.member('web', 'a')!;
    const b = runtime.member('web', 'b')!;
    a.setAdmin('disabled');
    assert.equal(supervisor.status().unfit, null, 'b still serves');
    assert.equal(await track(), '0');
    // the spare pool behind a loopback address does not count
    b.setHealth('down', 'test');
    assert.equal(supervisor.status().unfit, 'no usable member in pool web');
    assert.equal(await track(), '1');
    b.setHealth('up', 'test');
    assert.equal(supervisor.status().unfit, null);
    assert.equal(await track(), '0');
    a.setAdmin('enabled');
  });

  it('hands over until taken back', async () => {
    supervisor.handover(true);
    assert.equal(supervisor.status().handedOver, true);
    assert.equal(await track(), '1');
    supervisor.handover(false);
    assert.equal(supervisor.status().handedOver, false);
    assert.equal(await track(), '0');
  });

  it('rewrites the config and reloads keepalived (SIGHUP) when the VIPs change, not otherwise', async () => {
    const from = lines.length;
    supervisor.apply(config());
    supervisor.apply(config(', vips: [ 192.0.2.10, 192.0.2.11 ]'));
    await said('fake keepalived reloaded', from);
    assert.equal(lines.slice(from).filter((l) => l.msg === 'ha: the VRRP config changed; keepalived reloads it').length, 1);
    assert.match(await readFile(join(dir, 'keepalived.conf'), 'utf8'), /192\.0\.2\.11\/32 dev eth0/);
    assert.deepEqual(supervisor.status().vips, ['192.0.2.10', '192.0.2.11']);
    // keepalived's warnings are warnings in furiwake's log, not debug chatter
    await until(() => lines.slice(from).some((l) => l.msg === 'ha: keepalived warns'));
    const warned = lines.slice(from).find((l) => l.msg === 'ha: keepalived warns')!;
    assert.equal(warned.level, 40);
    assert.match(String(warned.keepalived), /WARNING - interface eth0 for vrrp_instance furiwake_4 doesn't exist/);
  });

  it('starts a keepalived that died again, and the role follows', async () => {
    const pid = supervisor.status().keepalived.pid!;
    process.kill(pid, 'SIGKILL');
    await until(() => supervisor.status().keepalived.restarts === 1 && supervisor.status().role === 'master');
    assert.notEqual(supervisor.status().keepalived.pid, pid);
    const roles = supervisor.status().transitions.map((t) => t.to);
    assert.deepEqual(roles.slice(-4), ['stopped', 'init', 'backup', 'master']);
    assert.ok(lines.some((l) => l.msg === 'ha: keepalived was ended by SIGKILL; it starts again'));
  });

  it('stops keepalived with SIGTERM and says stopped', async () => {
    await supervisor.stop();
    const status = supervisor.status();
    assert.equal(status.keepalived.running, false);
    assert.equal(status.role, 'stopped');
  });
});

describe('keepalived supervisor without keepalived', () => {
  it('says it cannot run keepalived, keeps trying, and stops cleanly', async () => {
    const dir = await tempDir('furiwake-ha-');
    const { sink, lines } = logSink();
    const runtime = new Runtime();
    const c = config();
    runtime.apply(c);
    const supervisor = new KeepalivedSupervisor(c, runtime, createLogger('info', sink), { binary: join(dir, 'no-keepalived'), stateDir: dir });
    try {
      await supervisor.start();
      await until(() => lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('ha: keepalived could not run (spawn') && l.msg.endsWith('ENOENT); it starts again')));
      const status = supervisor.status();
      assert.equal(status.role, 'stopped');
      assert.equal(status.keepalived.running, false);
      assert.equal(status.keepalived.pid, null);
    } finally {
      await supervisor.stop();
      runtime.close();
    }
  });
});

describe('keepalived supervisor while the first health checks run', () => {
  it('is unfit until a member is checked, and says so at info, not as a warning', async () => {
    const dir = await tempDir('furiwake-ha-');
    const { sink, lines } = logSink();
    const runtime = new Runtime();
    const c = parseConfig(`ha: { interface: eth0, router-id: 9 }
services:
  www: { listen: "192.0.2.10:80", mode: tcp, pool: web }
pools:
  web: { members: [ { address: "10.1.0.1:80", id: a } ], health: { monitors: [ { type: tcp } ] } }
`, 'test.yaml', {});
    runtime.apply(c);
    const a = runtime.member('web', 'a')!;
    assert.equal(a.health, 'checking', 'no health manager runs here: the member waits for its first check');
    const supervisor = new KeepalivedSupervisor(c, runtime, createLogger('info', sink), { binary: join(dir, 'no-keepalived'), stateDir: dir });
    try {
      await supervisor.start();
      // (a stop before the failed spawn is reported hangs: wait for it, as the test above does)
      await until(() => lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('ha: keepalived could not run')));
      assert.equal(supervisor.status().unfit, 'no usable member in pool web yet: the first health checks are under way');
      const said = lines.find((l) => l.msg === 'ha: this node is unfit to hold the VIPs; it tells keepalived')!;
      assert.equal(said.level, 30);
      // checked and down: a real reason to give the VIPs away, a warning
      a.setHealth('down', 'test');
      assert.equal(supervisor.status().unfit, 'no usable member in pool web');
      assert.equal(lines.filter((l) => l.msg === 'ha: this node is unfit to hold the VIPs; it tells keepalived').at(-1)!.level, 40);
      a.setHealth('up', 'test');
      assert.equal(supervisor.status().unfit, null);
    } finally {
      await supervisor.stop();
      runtime.close();
    }
  });
});

// The supervisor's private state directory attacked: a pid file whose pid now belongs to some
// other process (pid reuse), a second furiwake for the same virtual router in the same network
// namespace (same directory), a directory that is a symlink or that others may write to, and a
// notify FIFO that is a regular file. Nothing unrelated may be killed, and nothing of the first
// furiwake may be disturbed. A stand-in keepalived (fake-keepalived.ts) is used: no root needed.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { KeepalivedSupervisor } from '../../src/ha/keepalived.ts';
import { alive, processStart } from '../../src/ha/state-dir.ts';
import { createLogger } from '../../src/log.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { logSink } from '../helpers/app.ts';
import { tempDir } from '../helpers/files.ts';
import { until } from '../helpers/wait.ts';

const FAKE = fileURLToPath(new URL('./fake-keepalived.ts', import.meta.url));

const config = parseConfig(`ha: { interface: eth0, router-id: 9, priority: 120 }
services:
  www: { listen: "192.0.2.10:80", mode: tcp, pool: web }
pools:
  web: { members: [ { address: "10.1.0.1:80" } ] }
`, 'test.yaml', {});

const children: ChildProcess[] = [];
const runtimes: Runtime[] = [];
const supervisors: KeepalivedSupervisor[] = [];
after(async () => {
  for (const s of supervisors) await s.stop();
  for (const r of runtimes) r.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

async function fakeBinary(dir: string): Promise<string> {
  const binary = join(dir, 'keepalived');
  await writeFile(binary, `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" "$@"\n`);
  await chmod(binary, 0o755);
  return binary;
}

function supervisor(stateDir: string, binary: string) {
  const { sink, lines } = logSink();
  const runtime = new Runtime();
  runtime.apply(config);
  runtimes.push(runtime);
  const s = new KeepalivedSupervisor(config, runtime, createLogger('debug', sink), { binary, stateDir });
  supervisors.push(s);
  return { s, lines };
}

/** A long-running process with `args`, once it runs. */
async function running(command: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  return child;
}

describe('the keepalived left by an earlier furiwake', () => {
  it('a pid file whose pid now belongs to an unrelated process (one that merely reads our keepalived.conf) leaves it alone', async () => {
    const dir = await tempDir('ha-state');
    const conf = join(dir, 'keepalived.conf');
    await writeFile(conf, '# left by an earlier furiwake\n');
    // pid reuse: the old keepalived's pid now belongs to an operator's `tail -f .../keepalived.conf`
    const tail = await running('tail', ['-f', conf]);
    await writeFile(join(dir, 'keepalived.pid'), `${tail.pid}\n`);
    await writeFile(join(dir, 'keepalived-vrrp.pid'), `${tail.pid}\n`);
    const { s, lines } = supervisor(dir, await fakeBinary(dir));
    await s.start();
    await until(() => s.status().role === 'master');
    assert.equal(alive(tail.pid!), true, 'the unrelated process still runs');
    assert.equal(lines.some((l) => l.msg === 'ha: stopping a keepalived left running by an earlier furiwake'), false);
    await s.stop();
  });

  it('a keepalived still running with this config is stopped before ours starts', async () => {
    const dir = await tempDir('ha-state');
    const conf = join(dir, 'keepalived.conf');
    const stale = await running(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)', 'keepalived', `--use-file=${conf}`]);
    await writeFile(join(dir, 'keepalived.pid'), `${stale.pid}\n`);
    const { s, lines } = supervisor(dir, await fakeBinary(dir));
    const exited = once(stale, 'exit');
    await s.start();
    await exited;
    assert.ok(lines.some((l) => l.msg === 'ha: stopping a keepalived left running by an earlier furiwake' && l.pid === stale.pid));
    await s.stop();
  });
});

describe('one state directory, one furiwake', () => {
  it('a second furiwake for the same router in the same namespace refuses to start and leaves the first one alone', async () => {
    const dir = await tempDir('ha-state');
    const binary = await fakeBinary(dir);
    const first = supervisor(dir, binary);
    await first.s.start();
    await until(() => first.s.status().role === 'master');
    const pid = first.s.status().keepalived.pid!;
    const second = supervisor(dir, binary);
    await assert.rejects(second.s.start(), /another furiwake \(pid \d+\) runs VRRP router 9 from /);
    await second.s.stop();
    assert.equal(alive(pid), true, "the first furiwake's keepalived still runs");
    assert.equal(first.s.status().keepalived.pid, pid);
    assert.equal(first.s.status().role, 'master');
    assert.equal(first.lines.some((l) => l.msg === 'ha: this node is now stopped'), false);
    // once the first has stopped, the directory is free
    await first.s.stop();
    const third = supervisor(dir, binary);
    await third.s.start();
    await until(() => third.s.status().role === 'master');
    await third.s.stop();
  });

  it('an owner that is another live process refuses; an owner whose pid was reused (other start time) or is gone does not', async () => {
    const dir = await tempDir('ha-state');
    const binary = await fakeBinary(dir);
    const other = await running('sleep', ['1000']);
    const start = processStart(other.pid!);
    assert.ok(start !== null);
    await writeFile(join(dir, 'owner'), `${other.pid} ${start} 0123abcd\n`);
    const refused = supervisor(dir, binary);
    await assert.rejects(refused.s.start(), new RegExp(`another furiwake \\(pid ${other.pid}\\) runs VRRP router 9`));
    await refused.s.stop();
    assert.equal(alive(other.pid!), true);
    await writeFile(join(dir, 'owner'), `${other.pid} ${Number(start) + 1} 0123abcd\n`);
    const reused = supervisor(dir, binary);
    await reused.s.start();
    await reused.s.stop();
    assert.equal(alive(other.pid!), true, 'a reused pid is never signalled');
    await writeFile(join(dir, 'owner'), 'garbage\n');
    const garbled = supervisor(dir, binary);
    await garbled.s.start();
    await garbled.s.stop();
  });
});

describe('a stop while starting', () => {
  it('stop() called while start() waits starts no keepalived, and frees the directory', async () => {
    const dir = await tempDir('ha-state');
    const { s, lines } = supervisor(dir, await fakeBinary(dir));
    const starting = s.start();
    await s.stop();
    await starting;
    assert.equal(lines.some((l) => l.msg === 'ha: keepalived started'), false);
    assert.equal(s.status().keepalived.running, false);
    await assert.rejects(lstat(join(dir, 'owner')), { code: 'ENOENT' });
  });
});

describe('the state directory removed under a running furiwake', () => {
  it('is made again, with every file keepalived needs, when keepalived starts again; the role comes back', { timeout: 30_000 }, async () => {
    const base = await tempDir('ha-state');
    const dir = join(base, 'ha');
    const { s, lines } = supervisor(dir, await fakeBinary(base));
    await s.start();
    await until(() => s.status().role === 'master');
    // an operator's `rm -rf /run/furiwake`, or a cleaner of old files under a FURIWAKE_RUN_DIR in /tmp
    await rm(dir, { recursive: true });
    // while keepalived runs: the files its checks read are back within a heartbeat
    await until(() => existsSync(join(dir, 'alive.sh')) && existsSync(join(dir, 'unfit')) && existsSync(join(dir, 'keepalived.conf')));
    assert.ok(lines.some((l) => l.msg === "ha: the state directory's files were removed; furiwake writes them again"));
    assert.equal(s.status().keepalived.restarts, 0);
    const from = lines.length;
    process.kill(s.status().keepalived.pid!, 'SIGKILL');
    await until(() => s.status().keepalived.restarts >= 1 && s.status().role === 'master');
    assert.equal(s.status().keepalived.restarts, 1, 'started again at the first try');
    assert.equal((await lstat(join(dir, 'notify.fifo'))).isFIFO(), true);
    assert.match(await readFile(join(dir, 'keepalived.conf'), 'utf8'), /vrrp_instance furiwake_4/);
    assert.match(await readFile(join(dir, 'alive.sh'), 'utf8'), /kill -0/);
    assert.equal((await readFile(join(dir, 'unfit'), 'utf8')).trim(), '0');
    assert.match(await readFile(join(dir, 'owner'), 'utf8'), new RegExp(`^${process.pid} `));
    assert.equal(lines.slice(from).filter((l) => l.msg === 'ha: keepalived started').length, 1);
    await s.stop();
  });
});

describe('the state directory and its files', () => {
  it('refuses a state directory that is a symlink', async () => {
    const base = await tempDir('ha-state');
    const target = join(base, 'elsewhere');
    await mkdir(target, { mode: 0o700 });
    const link = join(base, 'ha-link');
    await symlink(target, link);
    const { s } = supervisor(link, await fakeBinary(base));
    await assert.rejects(s.start(), /ha: the state directory .*ha-link.* is a symlink/);
    await s.stop();
    assert.deepEqual(await readdir(target), [], 'nothing was written where the link points');
  });

  it('refuses a state directory that others may write to', async () => {
    const base = await tempDir('ha-state');
    const dir = join(base, 'open');
    await mkdir(dir);
    await chmod(dir, 0o777);
    const { s } = supervisor(dir, await fakeBinary(base));
    await assert.rejects(s.start(), /ha: the state directory .*open.* may be written by other users \(mode 777\)/);
    await s.stop();
  });

  it('creates a missing state directory for its owner alone, and replaces a notify FIFO that is a regular file', async () => {
    const base = await tempDir('ha-state');
    const dir = join(base, 'run', 'ha');
    const { s } = supervisor(dir, await fakeBinary(base));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'notify.fifo'), 'INSTANCE "furiwake_4" MASTER 255\n');
    await s.start();
    await until(() => s.status().role === 'master');
    assert.equal((await lstat(join(dir, 'notify.fifo'))).isFIFO(), true);
    assert.equal((await lstat(dir)).mode & 0o777, 0o700);
    assert.match(await readFile(join(dir, 'owner'), 'utf8'), new RegExp(`^${process.pid} \\d+ `));
    await s.stop();
    await assert.rejects(lstat(join(dir, 'owner')), { code: 'ENOENT' }, 'a stopped furiwake leaves the directory free');
  });
});

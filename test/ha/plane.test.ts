// The ha plane across reloads, with a stand-in keepalived (fake-keepalived.ts): an operator's
// handover outlives a reload that starts a new keepalived (a changed router-id), so a node handed
// over for maintenance does not take the VIPs back on its own; a stop that comes while keepalived
// is being started leaves no keepalived behind.

import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { HaPlane } from '../../src/ha/plane.ts';
import { defaultStateDir } from '../../src/ha/keepalived.ts';
import { alive } from '../../src/ha/state-dir.ts';
import { createLogger } from '../../src/log.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { logSink } from '../helpers/app.ts';
import { tempDir } from '../helpers/files.ts';
import { until } from '../helpers/wait.ts';

const FAKE = fileURLToPath(new URL('./fake-keepalived.ts', import.meta.url));

function config(routerId: number) {
  return parseConfig(`ha: { interface: eth0, router-id: ${routerId}, priority: 120 }
services:
  www: { listen: "192.0.2.10:80", mode: tcp, pool: web }
pools:
  web: { members: [ { address: "10.1.0.1:80" } ] }
`, 'test.yaml', {});
}

describe('ha plane', () => {
  const runtime = new Runtime();
  const { sink, lines } = logSink();
  let plane: HaPlane;
  after(async () => {
    await plane?.close();
    runtime.close();
  });

  it('keeps an operator handover through a reload that starts a new keepalived, until taken back', async () => {
    const dir = await tempDir('ha-plane');
    process.env.FURIWAKE_RUN_DIR = dir;
    const binary = join(dir, 'keepalived');
    await writeFile(binary, `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" "$@"\n`);
    await chmod(binary, 0o755);
    plane = new HaPlane(runtime, createLogger('debug', sink), { binary });
    const first = config(9);
    runtime.apply(first);
    assert.deepEqual(await plane.apply(first), []);
    await until(() => plane.status()?.vrrp?.role === 'master');
    plane.handover(true);
    const second = config(10);
    runtime.apply(second);
    assert.deepEqual(await plane.apply(second), []);
    await until(() => plane.status()?.vrrp?.routerId === 10 && plane.status()?.vrrp?.keepalived.running === true);
    assert.equal(plane.status()?.vrrp?.handedOver, true, 'still handed over');
    const track = join(defaultStateDir(second.ha!), 'unfit');
    assert.equal((await readFile(track, 'utf8')).trim(), '1', 'the new keepalived is told at once');
    plane.handover(false);
    plane.handover(false);
    assert.equal(plane.status()?.vrrp?.handedOver, false);
    assert.equal((await readFile(track, 'utf8')).trim(), '0');
  });

  it('a stop (SIGTERM) while keepalived is being started leaves no keepalived running', async () => {
    await plane.close();
    plane = new HaPlane(runtime, createLogger('debug', sink), { binary: join(process.env.FURIWAKE_RUN_DIR!, 'keepalived') });
    const from = lines.length;
    const c = config(11);
    runtime.apply(c);
    const applying = plane.apply(c);
    await plane.close();
    await applying;
    // what start() had begun is over: a keepalived spawned now would be the last thing it did
    await new Promise((resolve) => setImmediate(resolve));
    const started = lines.slice(from).filter((l) => l.msg === 'ha: keepalived started');
    for (const l of started) assert.equal(alive(Number(l.pid)), false, `keepalived ${String(l.pid)} outlived the stop`);
    assert.equal(plane.status()?.vrrp ?? null, null);
  });
});

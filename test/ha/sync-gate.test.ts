// A node that starts with ha.sync and VRRP keeps away from the VIPs (the track file says unfit)
// until a peer's full resynchronisation arrived, so that a returning master does not serve for a
// moment without the drains and stick entries made on its peer; a lone node takes them after a bound.

import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { defaultStateDir } from '../../src/ha/keepalived.ts';
import { HaPlane } from '../../src/ha/plane.ts';
import { WAITING_REASON } from '../../src/ha/sync-gate.ts';
import { followSync, type HaSync } from '../../src/ha/sync.ts';
import { createLogger } from '../../src/log.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { logSink } from '../helpers/app.ts';
import { tempDir } from '../helpers/files.ts';
import { freePort } from '../helpers/ports.ts';
import { until } from '../helpers/wait.ts';

const FAKE = fileURLToPath(new URL('./fake-keepalived.ts', import.meta.url));
const KEY = 'a-shared-key-of-32-characters-ok';

function config(routerId: number, listen: number, peer: number) {
  return parseConfig(`ha:
  interface: eth0
  router-id: ${routerId}
  priority: 120
  sync: { listen: "127.0.0.1:${listen}", peers: [ "127.0.0.1:${peer}" ], key: ${KEY} }
services:
  www: { listen: "192.0.2.10:80", mode: tcp, pool: web }
pools:
  web: { members: [ { address: "10.1.0.1:80" } ] }
`, 'test.yaml', {});
}

async function fakeBinary(): Promise<string> {
  const dir = await tempDir('ha-sync-gate');
  process.env.FURIWAKE_RUN_DIR = dir;
  const binary = join(dir, 'keepalived');
  await writeFile(binary, `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" "$@"\n`);
  await chmod(binary, 0o755);
  return binary;
}

async function track(routerId: number, listen: number, peer: number): Promise<string> {
  return (await readFile(join(defaultStateDir(config(routerId, listen, peer).ha!), 'unfit'), 'utf8')).trim();
}

describe('a node that starts waits for its peers state before it takes the VIPs', () => {
  const runtime = new Runtime();
  const peerRuntime = new Runtime();
  const { sink, lines } = logSink();
  const log = createLogger('debug', sink);
  const planes: HaPlane[] = [];
  const syncs: HaSync[] = [];
  after(async () => {
    for (const p of planes) await p.close();
    for (const s of syncs) await s.close();
    runtime.close();
    peerRuntime.close();
  });

  /** A node of router `routerId` started as the app starts one: its sync link, then the plane told of it, then keepalived. */
  async function startNode(routerId: number, noPeer: number, slowPeer = 600_000, peerPort?: number) {
    const binary = await fakeBinary();
    const [a, b] = [await freePort(), peerPort ?? await freePort()];
    const mine = config(routerId, a, b);
    runtime.apply(mine);
    const plane = new HaPlane(runtime, log, { binary }, { noPeer, slowPeer });
    planes.push(plane);
    const { sync } = await followSync(null, mine.ha!.sync, runtime, log);
    syncs.push(sync!);
    plane.syncReady(sync, mine);
    assert.deepEqual(await plane.apply(mine), []);
    return { a, b, mine, plane, sync };
  }

  it('is unfit until the peer resynchronisation arrived, then fit', async () => {
    // bound far away: only the peer's resynchronisation may open the gate here
    const { a, b, mine, plane, sync } = await startNode(21, 600_000);
    await until(() => plane.status()?.vrrp?.keepalived.running === true);
    assert.equal(await track(21, a, b), '1', 'unfit while no peer state arrived');
    assert.equal(plane.status()?.vrrp?.unfit, WAITING_REASON);

    const theirs = config(22, b, a);
    peerRuntime.apply(theirs);
    const { sync: peer } = await followSync(null, theirs.ha!.sync, peerRuntime, createLogger('silent'));
    syncs.push(peer!);
    await until(() => plane.status()?.vrrp?.unfit === null);
    assert.equal(await track(21, a, b), '0', 'fit once the peer state arrived');
    assert.ok(lines.some((l) => l.msg === `ha: state received from 127.0.0.1:${b}: this node may hold the VIPs`));
    // a reload with the same link keeps it fit
    plane.syncReady(sync, mine);
    assert.deepEqual(await plane.apply(mine), []);
    assert.equal(await track(21, a, b), '0');
  });

  it('with no peer reachable, turns fit after the bound and says so', async () => {
    const { a, b, plane } = await startNode(23, 300);
    assert.equal(plane.status()?.vrrp?.unfit, WAITING_REASON);
    assert.equal(await track(23, a, b), '1');
    await until(() => plane.status()?.vrrp?.unfit === null);
    assert.equal(await track(23, a, b), '0');
    assert.ok(lines.some((l) => l.msg === 'ha: no peer answered within 0.3 s: serving with what this node has'));
  });

  it('with a peer that answers but sends no resynchronisation, waits up to the larger bound', async () => {
    // the peer listens but dials nowhere useful: it never sends this node its state
    const [peerPort, nowhere] = [await freePort(), await freePort()];
    const theirs = config(26, peerPort, nowhere);
    peerRuntime.apply(theirs);
    const { sync: peer } = await followSync(null, theirs.ha!.sync, peerRuntime, createLogger('silent'));
    syncs.push(peer!);
    const { a, b, plane } = await startNode(25, 1_000, 1_500, peerPort);
    await until(() => plane.status()?.vrrp?.unfit === null);
    assert.equal(await track(25, a, b), '0');
    assert.ok(lines.some((l) => l.msg === 'ha: no peer finished its resynchronisation within 1.5 s: serving with what this node has'));
    assert.ok(!lines.some((l) => l.msg === 'ha: no peer answered within 1 s: serving with what this node has'), 'a peer answered');
  });

  it('a reload that removes ha.sync while it waits ends the wait', async () => {
    const { a, b, mine, plane, sync } = await startNode(27, 600_000);
    assert.equal(await track(27, a, b), '1');
    await sync!.close();
    plane.syncReady(null, mine);
    assert.equal(plane.status()?.vrrp?.unfit, null);
    assert.equal(await track(27, a, b), '0');
    assert.ok(lines.some((l) => l.msg === 'ha: a reload removed ha.sync: serving with what this node has'));
  });

  it('without ha.sync, never waits', async () => {
    const binary = await fakeBinary();
    const [a, b] = [await freePort(), await freePort()];
    const mine = config(24, a, b);
    runtime.apply(mine);
    const plane = new HaPlane(runtime, log, { binary });
    planes.push(plane);
    plane.syncReady(null, mine);
    assert.deepEqual(await plane.apply(mine), []);
    assert.equal(plane.status()?.vrrp?.unfit, null);
    assert.equal(await track(24, a, b), '0');
  });
});

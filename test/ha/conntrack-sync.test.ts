// Kernel connection sync without processes: when it runs and on which addresses, and its
// metrics read from a supervisor that has not started (conntrackd itself: test/kernel/ha-conntrack).

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CONNTRACK_METRICS } from '../../src/ha/conntrack-metrics.ts';
import { ConntrackSync, conntrackSyncFor, conntrackSyncWarnings } from '../../src/ha/conntrack-sync.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';

describe('conntrack sync metrics', () => {
  test('running, restarts and every command by result, read from the supervisor', () => {
    const sync = new ConntrackSync({
      ha: { interface: 'eth0', peers: ['10.0.0.2'], sync: null, vips: null, conntrackSync: { port: 3780 } },
      addresses: ['10.0.0.100'], logger: createLogger('silent'),
    });
    const read = Object.fromEntries(CONNTRACK_METRICS.map((m) => [m.name, m.samples(sync)]));
    assert.deepEqual(read.furiwake_ha_conntrack_running, [[{}, 0]]);
    assert.deepEqual(read.furiwake_ha_conntrack_restarts_total, [[{}, 0]]);
    const commands = read.furiwake_ha_conntrack_commands_total.map(([labels]) => `${labels.command}/${labels.result}`);
    assert.deepEqual(commands.toSorted(), ['bulk-send', 'commit', 'flush', 'purge', 'request-resync', 'resync'].flatMap((c) => [`${c}/failed`, `${c}/ok`]));
    for (const m of CONNTRACK_METRICS) assert.match(m.name, /^furiwake_ha_conntrack_[a-z_]+$/);
  });

  test('refuses a config where conntrack sync is off', () => {
    assert.throws(() => new ConntrackSync({
      ha: { interface: 'eth0', peers: [], sync: null, vips: null, conntrackSync: null }, addresses: [], logger: createLogger('silent'),
    }), /conntrack-sync: false/);
  });
});

describe('when conntrack sync runs', () => {
  const config = (ha: string, services: string): ReturnType<typeof parseConfig> => parseConfig(`${ha}services:\n${services}pools:\n  web: { members: [ { address: 10.1.0.11:80 } ] }\n`, 'test.yaml');
  const ha = 'ha: { interface: eth0, router-id: 51, peers: [ 10.0.0.2 ] }\n';
  const nat = '  www: { listen: 192.168.1.100:80, mode: nat, pool: web }\n';
  const tcp = '  www: { listen: 192.168.1.100:80, mode: tcp, pool: web }\n';

  test('with ha and a nat or dsr service, on their addresses; not without ha, with it off, or without such services', () => {
    const on = conntrackSyncFor(config(ha, nat));
    assert.deepEqual(on?.addresses, ['192.168.1.100', '10.1.0.11']);
    assert.equal(on?.ha.conntrackSync?.port, 3780);
    assert.equal(conntrackSyncFor(config('', nat)), null);
    assert.equal(conntrackSyncFor(config(ha.replace(' }', ', conntrack-sync: false }'), nat)), null);
    assert.equal(conntrackSyncFor(config(ha, tcp)), null);
    assert.equal(conntrackSyncFor(config(ha.replace(' }', ', conntrack-sync: { port: 4000 } }'), nat))?.ha.conntrackSync?.port, 4000);
  });

  test('warnings: conntrackd missing from PATH, more than one peer; none when it does not run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'furiwake-path-'));
    try {
      await writeFile(join(dir, 'conntrackd'), '#!/bin/sh\n', { mode: 0o755 });
      assert.deepEqual(conntrackSyncWarnings(config(ha, nat), dir), []);
      assert.deepEqual(conntrackSyncWarnings(config(ha, nat), '/nonexistent'), [
        'ha.conntrack-sync: conntrackd not found on PATH: install conntrackd (Debian: apt-get install conntrackd) so that nat connections survive a failover, or set conntrack-sync: false',
      ]);
      assert.deepEqual(conntrackSyncWarnings(config(ha.replace('[ 10.0.0.2 ]', '[ 10.0.0.2, 10.0.0.3 ]'), nat), dir), [
        'ha.conntrack-sync: conntrackd syncs a pair: only the first of ha.peers (10.0.0.2) receives the kernel\'s connections',
      ]);
      assert.deepEqual(conntrackSyncWarnings(config(ha, tcp), '/nonexistent'), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// The metrics of kernel connection sync, read from a supervisor that has not started.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONNTRACK_METRICS } from '../../src/ha/conntrack-metrics.ts';
import { ConntrackSync } from '../../src/ha/conntrack-sync.ts';
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

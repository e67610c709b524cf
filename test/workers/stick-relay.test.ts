// The main thread's relay of the workers' stick tables, without threads: what a worker sends is
// set in the main thread's table and sent on, at the next turn, to every worker but that one;
// an operator's deletion or clear and an ha peer's entry go to every worker; a new worker's
// snapshot; tables a reload replaced or a service the workers do not serve are not followed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import type { Config } from '../../src/config/types.ts';
import type { SyncMessage } from '../../src/ha/sync-frame.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { StickRelay } from '../../src/workers/stick-relay.ts';
import { pool, single } from '../helpers/config.ts';

const SOURCE_IP: PersistenceConfig = { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 60_000, maxEntries: 100 };

function config(persistence: PersistenceConfig = SOURCE_IP): Config {
  return single('tcp', pool('round-robin', [{ port: 1, id: 'a' }, { port: 2, id: 'b' }]), { persistence });
}

/** A runtime with `svc`, a relay for 3 workers following it, and what the relay posted to each. */
function setup() {
  const runtime = new Runtime();
  runtime.apply(config());
  const posted: SyncMessage[][][] = [[], [], []];
  const relay = new StickRelay(runtime, 3, (index, messages) => posted[index].push(messages));
  relay.watchTables(['svc']);
  return { runtime, relay, posted, table: runtime.services.get('svc')!.stickTable! };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('StickRelay', () => {
  it("sets a worker's entries in the main thread's table and sends them on to the other workers only, once per turn", async () => {
    const { relay, posted, table } = setup();
    relay.fromWorker(1, [{ type: 'stick', service: 'svc', entries: [{ key: '10.0.0.1', member: 'a', expiresIn: 60_000 }, { key: '10.0.0.2', member: 'gone', expiresIn: 60_000 }] }]);
    relay.fromWorker(1, [{ type: 'stick', service: 'svc', entries: [{ key: '10.0.0.3', member: 'b', expiresIn: 59_000 }] }, { type: 'stick', service: 'other', entries: [{ key: 'x', member: 'a', expiresIn: 1 }] }]);
    assert.equal(table.peek('10.0.0.1')?.member, 'a');
    // a member the main thread does not have (a reload removed it) is not remembered
    assert.equal(table.peek('10.0.0.2'), undefined);
    assert.equal(relay.idle, false);
    await turn();
    assert.equal(relay.idle, true);
    assert.deepEqual(posted[1], []);
    for (const i of [0, 2]) {
      assert.equal(posted[i].length, 1);
      assert.deepEqual(posted[i][0], [{ type: 'stick', service: 'svc', entries: [{ key: '10.0.0.1', member: 'a', expiresIn: 60_000 }, { key: '10.0.0.3', member: 'b', expiresIn: 60_000 }] }]);
    }
    assert.deepEqual(relay.counts, { fromWorkers: { messages: 2, entries: 3 }, toWorkers: { messages: 2, entries: 4 } });
  });

  it("counts the workers' lookups in the main thread's table", () => {
    const { relay, table } = setup();
    relay.fromWorker(0, [], [['svc', 3, 2], ['other', 5, 5]]);
    relay.fromWorker(1, [], [['svc', 1, 0]]);
    assert.deepEqual([table.counters.hits, table.counters.misses], [4, 2]);
  });

  it("sends an operator's deletion and clear, and an ha peer's entries, to every worker", async () => {
    const { relay, posted, table } = setup();
    relay.fromWorker(0, [{ type: 'stick', service: 'svc', entries: [{ key: 'k1', member: 'a', expiresIn: 1 }, { key: 'k2', member: 'b', expiresIn: 1 }, { key: 'k3', member: 'a', expiresIn: 1 }] }]);
    await turn();
    for (const p of posted) p.length = 0;
    table.delete('k1');
    table.adopt('k4', 'b', 30_000);
    // a clear of a's keys drops what was pending for them, and goes first
    table.clear('a');
    table.adopt('k5', 'a', 20_000);
    await turn();
    for (const i of [0, 1, 2]) {
      assert.deepEqual(posted[i], [[
        { type: 'clear', service: 'svc', member: 'a' },
        { type: 'unstick', service: 'svc', keys: ['k1'] },
        { type: 'stick', service: 'svc', entries: [{ key: 'k4', member: 'b', expiresIn: 30_000 }, { key: 'k5', member: 'a', expiresIn: 20_000 }] },
      ]]);
    }
    for (const p of posted) p.length = 0;
    table.delete('k2');
    await turn();
    assert.deepEqual(posted[2], [[{ type: 'unstick', service: 'svc', keys: ['k2'] }]]);
  });

  it("gives a new worker every entry, and follows only the tables of the workers' services as reloads change them", async () => {
    const { runtime, relay, posted, table } = setup();
    relay.fromWorker(2, [{ type: 'stick', service: 'svc', entries: [{ key: 'k1', member: 'a', expiresIn: 1 }] }]);
    const snapshot = relay.snapshot();
    assert.equal(snapshot.length, 1);
    assert.deepEqual(snapshot[0].type === 'stick' && snapshot[0].entries.map((e) => [e.key, e.member]), [['k1', 'a']]);
    await turn();
    // other persistence settings: a new table; the old one is no longer followed
    runtime.apply(config({ ...SOURCE_IP, timeout: 30_000 }));
    relay.watchTables(['svc']);
    const next = runtime.services.get('svc')!.stickTable!;
    assert.notEqual(next, table);
    assert.equal(table.mirror, null);
    assert.notEqual(next.mirror, null);
    for (const p of posted) p.length = 0;
    table.set('old', 'a');
    await turn();
    assert.deepEqual(posted, [[], [], []]);
    // the workers no longer serve it (its mode changed): not followed
    relay.watchTables([]);
    assert.equal(next.mirror, null);
    relay.fromWorker(0, [{ type: 'stick', service: 'svc', entries: [{ key: 'k9', member: 'a', expiresIn: 1 }] }]);
    assert.equal(next.peek('k9'), undefined);
    relay.close();
  });
});

// A worker's side of the stick tables, without threads: its changes and lookups wait for the
// next turn of the loop, but go at once when the worker is about to answer the main thread
// (sendPending), so that no answer gets ahead of the changes made before it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import type { SyncMessage } from '../../src/ha/sync-frame.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import type { StickLookups } from '../../src/workers/messages.ts';
import { WorkerSticks } from '../../src/workers/worker-sticks.ts';
import { pool, single } from '../helpers/config.ts';

const SOURCE_IP: PersistenceConfig = { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 60_000, maxEntries: 100 };

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** 'key member' of each entry the messages set (the time left depends on the clock) */
const entriesOf = (messages: SyncMessage[]): string[] => messages.flatMap((m) => (m.type === 'stick' ? m.entries.map((e) => `${e.key} ${e.member}`) : []));

function setup() {
  const runtime = new Runtime();
  runtime.apply(single('tcp', pool('round-robin', [{ port: 1, id: 'a' }, { port: 2, id: 'b' }]), { persistence: SOURCE_IP }));
  const sticks = new WorkerSticks(runtime, 0);
  sticks.applied(undefined);
  const sent: [SyncMessage[], StickLookups[]][] = [];
  sticks.send = (messages, lookups) => sent.push([messages, lookups]);
  return { sticks, sent, table: runtime.services.get('svc')!.stickTable! };
}

describe('WorkerSticks', () => {
  it('sends a change and its lookups at the next turn, or at once before an answer, and only once', async () => {
    const { sticks, sent, table } = setup();
    assert.equal(table.get('10.0.0.1'), undefined);
    table.set('10.0.0.1', 'a');
    assert.equal(sent.length, 0);
    await turn();
    assert.deepEqual(sent.map(([messages, lookups]) => [entriesOf(messages), lookups]), [[['10.0.0.1 a'], [['svc', 0, 1]]]]);

    // a connection of that client: a hit, then its end refreshes the entry; the worker is asked something before the turn ends
    assert.equal(table.get('10.0.0.1'), 'a');
    table.restore('10.0.0.1', 'a');
    sticks.sendPending();
    assert.equal(sent.length, 2);
    assert.deepEqual([entriesOf(sent[1][0]), sent[1][1]], [['10.0.0.1 a'], [['svc', 1, 0]]]);
    await turn();
    assert.equal(sent.length, 2, 'what was sent early is not sent again');
    // nothing pending: nothing sent
    sticks.sendPending();
    assert.equal(sent.length, 2);
    sticks.close();
  });
});

// What the sync link carries, without sockets: a node's own stick changes are gathered and sent
// once each; what it applies from a peer is never sent back; an operator change older than the
// one known loses (the later time wins, ties by node name; a local change is dated after what it replaces); a table a reload made anew
// is watched again; updates for what this node does not have are ignored, not applied.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Config } from '../../src/config/types.ts';
import { encodeMessage, parseMessage } from '../../src/ha/sync-frame.ts';
import { SyncState } from '../../src/ha/sync-state.ts';
import { StickTable } from '../../src/persistence/stick-table.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { pool, single } from '../helpers/config.ts';

function config(timeout = 600_000): Config {
  return single('tcp', pool('round-robin', [{ port: 9, id: 'm1' }, { port: 10, id: 'm2' }]), {
    persistence: { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout, maxEntries: 100 },
  });
}

function setup(): { runtime: Runtime; state: SyncState } {
  const runtime = new Runtime();
  runtime.apply(config());
  const state = new SyncState(runtime, 'node-a');
  state.watchTables();
  state.recording = true;
  return { runtime, state };
}

const table = (runtime: Runtime) => runtime.services.get('svc')!.persistence!.table!;

describe('sync state', () => {
  it('sends each changed key once, deletions and clears in order, and nothing it applied from a peer', () => {
    const { runtime, state } = setup();
    const t = table(runtime);
    t.set('192.0.2.1', 'm1');
    t.set('192.0.2.1', 'm2');
    t.set('192.0.2.2', 'm1');
    t.delete('192.0.2.2');
    const { messages, entries } = state.flush();
    assert.equal(entries, 1);
    assert.deepEqual(messages.map((m) => m.type), ['unstick', 'stick']);
    assert.deepEqual(messages[1].type === 'stick' && messages[1].entries.map((e) => [e.key, e.member]), [['192.0.2.1', 'm2']]);
    // from a peer: applied, with its remaining time, and not sent back
    const applied = state.apply({ type: 'stick', service: 'svc', entries: [{ key: '198.51.100.1', member: 'm1', expiresIn: 5_000 }, { key: '198.51.100.2', member: 'nobody', expiresIn: 5_000 }] });
    assert.deepEqual(applied, { taken: 1, ignored: 1 });
    assert.ok(t.peek('198.51.100.1')!.expiresIn <= 5_000);
    assert.equal(t.peek('198.51.100.2'), undefined);
    state.apply({ type: 'clear', service: 'svc', member: 'm2' });
    assert.equal(t.peek('192.0.2.1'), undefined);
    assert.deepEqual(state.flush().messages, []);
    // an operator's clear goes out before what follows it
    t.set('192.0.2.3', 'm1');
    t.clear();
    t.set('192.0.2.4', 'm2');
    assert.deepEqual(state.flush().messages.map((m) => m.type), ['clear', 'stick']);
    state.close();
  });

  it('operator changes: last writer wins, the peer\'s older one loses, a tie goes to the larger node name', () => {
    const { runtime, state } = setup();
    const m1 = runtime.member('p', 'm1')!;
    m1.setAdmin('drain');
    runtime.events.emit('operator', m1, { state: 'drain' });
    const mine = state.operatorChanges()[0];
    assert.equal(mine.by, 'node-a');
    const sent = state.flush().messages;
    assert.deepEqual(sent.map((m) => m.type), ['operator']);
    // older, from a peer: ignored
    assert.equal(state.apply({ type: 'operator', changes: [{ pool: 'p', member: 'm1', field: 'state', value: 0, at: mine.at - 1, by: 'node-b' }] }).taken, 0);
    assert.equal(m1.admin, 'drain');
    // same time: node-b > node-a, so node-b's wins
    assert.equal(state.apply({ type: 'operator', changes: [{ pool: 'p', member: 'm1', field: 'state', value: 2, at: mine.at, by: 'node-b' }] }).taken, 1);
    assert.equal(m1.admin, 'disabled');
    // newer: wins, and is not sent back
    state.apply({ type: 'operator', changes: [{ pool: 'p', member: 'm1', field: 'weight', value: 9, at: mine.at + 1, by: 'node-b' }] });
    assert.equal(m1.configWeight, 9);
    assert.deepEqual(state.flush().messages, []);
    // a member this node does not have: ignored
    assert.equal(state.apply({ type: 'operator', changes: [{ pool: 'p', member: 'm9', field: 'state', value: 1, at: Date.now(), by: 'node-b' }] }).ignored, 1);
    state.close();
  });

  it('watches the table a reload made anew, and no longer the old one', () => {
    const { runtime, state } = setup();
    const before = table(runtime);
    runtime.apply(config(300_000));
    const after = table(runtime);
    assert.notEqual(after, before);
    state.watchTables();
    assert.equal(before.observer, null);
    after.set('192.0.2.7', 'm1');
    assert.equal(state.flush().entries, 1);
    state.close();
    assert.equal(after.observer, null);
  });

  it('a connection that ends does not write back an entry an operator or a peer deleted meanwhile', () => {
    const { runtime, state } = setup();
    const p = runtime.services.get('svc')!.persistence!;
    const t = table(runtime);
    const m1 = runtime.member('p', 'm1')!;
    // deleted by the operator here (one key, then the whole table), then by a peer: each while a connection was open
    for (const remove of [() => t.delete('192.0.2.1'), () => t.clear(), () => state.apply({ type: 'unstick', service: 'svc', keys: ['192.0.2.1'] }), () => state.apply({ type: 'clear', service: 'svc', member: null })]) {
      p.picked('192.0.2.1', m1);
      state.flush();
      remove();
      state.flush();
      p.ended('192.0.2.1', m1);
      assert.equal(t.peek('192.0.2.1'), undefined);
      // nor sent to the peer, which would bring it back there
      assert.deepEqual(state.flush().messages, []);
    }
    // a client that comes back after the deletion is remembered again, and its end refreshes it
    p.picked('192.0.2.1', m1);
    p.ended('192.0.2.1', m1);
    assert.equal(t.peek('192.0.2.1')?.member, 'm1');
    state.close();
  });

  it('an operator change on a node whose clock is behind its peer\'s still wins over what it replaced, on both nodes', () => {
    const a = setup();
    const b = setup();
    const m1 = a.runtime.member('p', 'm1')!;
    // node-a's clock is 10 minutes behind node-b's: node-b drained m1 "later"
    const ahead = Date.now() + 600_000;
    a.state.apply({ type: 'operator', changes: [{ pool: 'p', member: 'm1', field: 'state', value: 1, at: ahead, by: 'node-b' }] });
    assert.equal(m1.admin, 'drain');
    // then an operator enables it on node-a
    m1.setAdmin('enabled');
    a.runtime.events.emit('operator', m1, { state: 'enabled' });
    const sent = a.state.flush().messages.find((m) => m.type === 'operator');
    assert.ok(sent !== undefined && sent.type === 'operator');
    assert.ok(sent.changes[0].at > ahead);
    assert.equal(a.state.operatorChanges()[0].by, 'node-a');
    // node-b, which knows its own drain, takes it
    b.state.apply({ type: 'operator', changes: [{ pool: 'p', member: 'm1', field: 'state', value: 1, at: ahead, by: 'node-b' }] });
    const bm1 = b.runtime.member('p', 'm1')!;
    assert.equal(bm1.admin, 'drain');
    assert.equal(b.state.apply(sent).taken, 1);
    assert.equal(bm1.admin, 'enabled');
    a.state.close();
    b.state.close();
  });

  it('a key deleted here is left deleted by a peer\'s full resynchronisation for the table\'s timeout, not by its later updates', () => {
    const clock = { now: 0 };
    const t = new StickTable({ maxEntries: 10, timeout: 1_000, now: () => clock.now });
    t.set('192.0.2.1', 'm1');
    t.delete('192.0.2.1');
    assert.deepEqual(t.removedKeys(), ['192.0.2.1']);
    assert.equal(t.adopt('192.0.2.1', 'm1', 500, true), false);
    assert.equal(t.peek('192.0.2.1'), undefined);
    // an update after the resynchronisation: the peer's client came back after the deletion
    assert.equal(t.adopt('192.0.2.1', 'm2', 500), true);
    assert.deepEqual(t.removedKeys(), []);
    // a deletion older than the timeout is forgotten: the entry would have expired by now
    t.clear();
    clock.now = 1_001;
    assert.deepEqual(t.removedKeys(), []);
    assert.equal(t.adopt('192.0.2.1', 'm1', 500, true), true);
  });

  it('two changes of one time from nodes of one name (a wildcard listen address) are ordered by value, the same on both', () => {
    const a = setup();
    const b = setup();
    const change = (value: number) => ({ type: 'operator' as const, changes: [{ pool: 'p', member: 'm1', field: 'state' as const, value, at: 1_000, by: '0.0.0.0:7400' }] });
    a.state.apply(change(1));
    a.state.apply(change(2));
    b.state.apply(change(2));
    b.state.apply(change(1));
    assert.equal(a.runtime.member('p', 'm1')!.admin, 'disabled');
    assert.equal(b.runtime.member('p', 'm1')!.admin, 'disabled');
    a.state.close();
    b.state.close();
  });

  it('a peer\'s entries land in the table a reload just made, and are ignored once a reload removed its table', () => {
    const { runtime, state } = setup();
    const before = table(runtime);
    runtime.apply(config(300_000));
    // before the next flush has watched the new table
    assert.equal(state.apply({ type: 'stick', service: 'svc', entries: [{ key: '192.0.2.5', member: 'm1', expiresIn: 5_000 }] }).taken, 1);
    assert.equal(table(runtime).peek('192.0.2.5')?.member, 'm1');
    assert.equal(before.peek('192.0.2.5'), undefined);
    runtime.apply(single('tcp', pool('round-robin', [{ port: 9, id: 'm1' }]), {}));
    const gone = { type: 'stick' as const, service: 'svc', entries: [{ key: '192.0.2.6', member: 'm1', expiresIn: 5_000 }] };
    assert.deepEqual(state.apply(gone), { taken: 0, ignored: 1 });
    assert.deepEqual(state.apply({ type: 'clear', service: 'svc', member: null }), { taken: 0, ignored: 1 });
    state.close();
  });

  it('leaves out a member whose id is too long for the link (a host name of 250 characters or more), and what it sends parses', () => {
    const long = `${'h'.repeat(250)}.test:8080`;
    const runtime = new Runtime();
    runtime.apply(single('tcp', pool('round-robin', [{ port: 9, id: 'm1' }, { port: 10, id: long }]), {
      persistence: { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 600_000, maxEntries: 100 },
    }));
    const state = new SyncState(runtime, 'node-a');
    state.watchTables();
    state.recording = true;
    const t = table(runtime);
    t.set('192.0.2.1', long);
    t.set('192.0.2.2', 'm1');
    runtime.events.emit('operator', runtime.member('p', long)!, { state: 'drain' });
    for (const messages of [state.flush().messages, [...state.snapshot()]]) {
      assert.deepEqual(messages.map((m) => m.type), ['stick']);
      for (const m of messages) assert.ok(parseMessage(encodeMessage(m)).ok);
    }
    state.close();
  });
});

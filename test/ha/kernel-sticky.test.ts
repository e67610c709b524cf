// The kernel's persistence entries on the sync link, without a kernel: a stand-in for the kernel
// plane's two calls (allSticky, adoptSticky) over an in-memory set. What is new, moved or
// refreshed goes out once; a link coming up sends everything again; what a peer sent is handed
// to the kernel plane, and not sent back.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Config } from '../../src/config/types.ts';
import { SyncState } from '../../src/ha/sync-state.ts';
import type { StickEntryUpdate, SyncMessage } from '../../src/ha/sync-frame.ts';
import type { KernelTables, StickyEntry } from '../../src/runtime/kernel-tables.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { pool, single } from '../helpers/config.ts';

const TIMEOUT = 600_000;

function config(): Config {
  return single('nat', pool('round-robin', [{ port: 9, id: 'm1' }, { port: 10, id: 'm2' }]), {
    persistence: { method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: TIMEOUT, maxEntries: 100 },
  });
}

/** What the kernel holds: key -> member id and ms left; and what a peer's entries became. */
class KernelStandIn implements Pick<KernelTables, 'allSticky' | 'adoptSticky'> {
  readonly entries = new Map<string, { member: string; expiresIn: number }>();
  readonly adopted: { service: string; entries: StickEntryUpdate[] }[] = [];
  #runtime: Runtime;
  constructor(runtime: Runtime) {
    this.#runtime = runtime;
  }
  async allSticky(): Promise<StickyEntry[]> {
    const members = this.#runtime.services.get('svc')!.pool.members;
    return [...this.entries].map(([key, e]) => ({ service: 'svc', key, member: members.find((m) => m.id === e.member) ?? null, expiresIn: e.expiresIn }));
  }
  adoptSticky(service: string, entries: readonly StickEntryUpdate[]): number {
    this.adopted.push({ service, entries: [...entries] });
    for (const e of entries) this.entries.set(e.key, { member: e.member, expiresIn: e.expiresIn });
    return entries.length;
  }
}

function setup(): { state: SyncState; kernel: KernelStandIn } {
  const runtime = new Runtime();
  runtime.apply(config());
  const kernel = new KernelStandIn(runtime);
  runtime.kernel = kernel as unknown as KernelTables;
  const state = new SyncState(runtime, 'node-a');
  state.recording = true;
  return { state, kernel };
}

const sent = (messages: SyncMessage[]): [string, string, number][] =>
  messages.flatMap((m) => (m.type === 'stick' ? m.entries.map((e): [string, string, number] => [e.key, e.member, e.expiresIn]) : []));

describe('kernel persistence on the sync link', () => {
  it('sends a new entry once, again when it moves or a client refreshes it by a tenth of the timeout', async () => {
    const { state, kernel } = setup();
    kernel.entries.set('192.0.2.1', { member: 'm1', expiresIn: TIMEOUT });
    await state.kernel.read();
    const first = state.flush();
    assert.deepEqual(sent(first.messages), [['192.0.2.1', 'm1', TIMEOUT]]);
    assert.equal(first.entries, 1);
    assert.equal(first.messages[0].type === 'stick' && first.messages[0].service, 'svc');
    // nothing changed: nothing sent
    await state.kernel.read();
    assert.deepEqual(state.flush().messages, []);
    // moved to m2
    kernel.entries.set('192.0.2.1', { member: 'm2', expiresIn: TIMEOUT });
    await state.kernel.read();
    assert.deepEqual(sent(state.flush().messages), [['192.0.2.1', 'm2', TIMEOUT]]);
    // refreshed: sent once its expiry is a tenth of the timeout later than what the peer has
    kernel.entries.set('192.0.2.1', { member: 'm2', expiresIn: TIMEOUT + 5_000 });
    await state.kernel.read();
    assert.deepEqual(state.flush().messages, []);
    kernel.entries.set('192.0.2.1', { member: 'm2', expiresIn: TIMEOUT + TIMEOUT / 10 + 1_000 });
    await state.kernel.read();
    assert.deepEqual(sent(state.flush().messages).map(([k]) => k), ['192.0.2.1']);
    // an entry of no member (gone from the pool) is not sent
    kernel.entries.set('192.0.2.2', { member: 'gone', expiresIn: TIMEOUT });
    await state.kernel.read();
    assert.deepEqual(state.flush().messages, []);
  });

  it('a link coming up sends every entry again', async () => {
    const { state, kernel } = setup();
    kernel.entries.set('192.0.2.1', { member: 'm1', expiresIn: TIMEOUT });
    kernel.entries.set('192.0.2.2', { member: 'm2', expiresIn: TIMEOUT });
    await state.kernel.read();
    assert.equal(state.flush().entries, 2);
    state.kernel.resendAll();
    await state.kernel.read();
    assert.deepEqual(sent(state.flush().messages).map(([k]) => k).sort(), ['192.0.2.1', '192.0.2.2']);
  });

  it('hands a peer\'s entries of a kernel service to the kernel plane, and does not send them back', async () => {
    const { state, kernel } = setup();
    const entries = [{ key: '198.51.100.1', member: 'm1', expiresIn: 30_000 }];
    assert.deepEqual(state.apply({ type: 'stick', service: 'svc', entries }), { taken: 1, ignored: 0 });
    assert.deepEqual(kernel.adopted, [{ service: 'svc', entries }]);
    // the next reading finds it in the kernel: it came from the peer, so it does not go back
    await state.kernel.read();
    assert.deepEqual(state.flush().messages, []);
    // a service this node does not have
    assert.deepEqual(state.apply({ type: 'stick', service: 'other', entries }), { taken: 0, ignored: 1 });
  });
});

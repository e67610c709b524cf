// The counts per client address shared by worker threads (max-connections-per-client across
// workers): the table against a Map model under random operations on a small table (collisions,
// runs that wrap, backward-shift deletion), a crowded table failing open, a dead thread's share
// given back, and two threads hammering it at once.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { clientTableBuffer, COUNTED, FULL, MAX_SLOTS, MIN_SLOTS, SharedClientTable, slotsFor, UNCOUNTED } from '../../src/runtime/shared-client-table.ts';
import { canonicalIP } from '../../src/ip-text.ts';
import { fuzz, Fuzzer, fuzzCount } from '../helpers/fuzz.ts';
import { heldAt, peakAt, START, type TableWork } from './shared-client-table-worker.ts';

const WORKER = new URL('./shared-client-table-worker.ts', import.meta.url);

function ipv4(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function addressPool(n: number): string[] {
  // half IPv4, half IPv6: both kinds of key in one table
  return Array.from({ length: n }, (_, i) => (i % 2 === 0 ? ipv4(i) : `2001:db8::${i.toString(16)}`));
}

describe('SharedClientTable', () => {
  it('sizes tables at twice the clients, as a power of two within bounds', () => {
    assert.equal(slotsFor(0), MIN_SLOTS);
    assert.equal(slotsFor(1000), 2048);
    assert.equal(slotsFor(Infinity), MAX_SLOTS);
    assert.throws(() => clientTableBuffer(1000, 2), /power of two/);
    assert.throws(() => clientTableBuffer(16, 0), /columns/);
  });

  it('counts like a Map under random acquires and releases, with collisions in a small table', () => {
    const slots = 16;
    const crowded = 12;
    const runs = fuzzCount(200);
    for (let run = 0; run < runs; run++) {
      const f = new Fuzzer(run + 1);
      const table = new SharedClientTable(clientTableBuffer(slots, 2), run % 2);
      const addresses = addressPool(20);
      const model = new Map<string, number>();
      for (let op = 0; op < 300; op++) {
        const address = f.pick(addresses);
        const cap = 1 + f.int(3);
        const held = model.get(address) ?? 0;
        if (held > 0 && f.int(2) === 0) {
          table.release(address);
          if (held === 1) model.delete(address);
          else model.set(address, held - 1);
        } else {
          const expected = held >= cap ? FULL : held === 0 && model.size >= crowded ? UNCOUNTED : COUNTED;
          assert.equal(table.acquire(address, cap), expected, `run ${run} op ${op}: ${address} cap ${cap} held ${held}`);
          if (expected === COUNTED) model.set(address, held + 1);
        }
        assert.equal(table.size, model.size, `run ${run} op ${op}`);
      }
      for (const address of addresses) assert.equal(table.count(address), model.get(address) ?? 0, `run ${run}: ${address}`);
      // all released: the table is empty again
      for (const [address, n] of model) for (let k = 0; k < n; k++) table.release(address);
      assert.equal(table.size, 0);
    }
  });

  it('holds many keys, and frees every slot when they are released', () => {
    const table = new SharedClientTable(clientTableBuffer(MIN_SLOTS, 1), 0);
    const addresses = addressPool(700);
    for (const a of addresses) assert.equal(table.acquire(a, 2), COUNTED);
    for (const a of addresses) assert.equal(table.acquire(a, 2), COUNTED);
    for (const a of addresses) assert.equal(table.acquire(a, 2), FULL);
    assert.equal(table.size, 700);
    for (const a of addresses.slice(0, 350)) {
      table.release(a);
      table.release(a);
    }
    assert.equal(table.size, 350);
    for (const a of addresses.slice(350)) assert.equal(table.count(a), 2);
    for (const a of addresses.slice(0, 350)) assert.equal(table.count(a), 0);
  });

  it('lets new addresses in uncounted when 3/4 full, and counts the ones it holds', () => {
    const table = new SharedClientTable(clientTableBuffer(16, 1), 0);
    const addresses = addressPool(13);
    for (const a of addresses.slice(0, 12)) assert.equal(table.acquire(a, 1), COUNTED);
    assert.equal(table.acquire(addresses[12], 1), UNCOUNTED);
    assert.equal(table.uncounted, 1);
    assert.equal(table.acquire(addresses[0], 1), FULL);
    table.release(addresses[0]);
    assert.equal(table.acquire(addresses[12], 1), COUNTED);
  });

  it('keys an IPv4 client as its IPv4-mapped IPv6 spelling; text that is no address is let in uncounted', () => {
    const table = new SharedClientTable(clientTableBuffer(16, 1), 0);
    assert.equal(table.acquire('192.0.2.1', 2), COUNTED);
    assert.equal(table.acquire('::ffff:192.0.2.1', 2), COUNTED);
    assert.equal(table.acquire('192.0.2.1', 2), FULL);
    assert.equal(table.acquire('', 2), UNCOUNTED);
    assert.equal(table.acquire('192.0.2.300', 2), UNCOUNTED);
    assert.equal(table.size, 1);
  });

  it('fuzz: any address text is counted under its canonical address or let in uncounted, never throws', () => {
    const seeds = ['192.0.2.1', '::ffff:192.0.2.1', '2001:db8::1', '::', '10.0.0.255', 'fe80::1:2:3:4', '::ffff:10.0.0.1'];
    const dictionary = ['.', ':', '::', 'ffff', '255', '0', '00', '1.2.3.4', '%eth0', '[', ']', ' '];
    const table = new SharedClientTable(clientTableBuffer(MIN_SLOTS, 1), 0);
    const model = new Map<string, number>();
    fuzz(14, fuzzCount(30_000), (f) => f.mutate(Buffer.from(f.pick(seeds), 'latin1'), dictionary), (input) => {
      const text = input.toString('latin1');
      const canonical = canonicalIP(text);
      const uncounted = table.uncounted;
      const result = table.acquire(text, 1_000_000);
      if (canonical === null) {
        assert.equal(result, UNCOUNTED);
        assert.equal(table.uncounted, uncounted + 1);
        return;
      }
      assert.equal(result, COUNTED);
      model.set(canonical, (model.get(canonical) ?? 0) + 1);
      assert.equal(table.count(canonical), model.get(canonical));
      assert.equal(table.size, model.size);
    });
    for (const [address, n] of model) for (let k = 0; k < n; k++) table.release(address);
    assert.equal(table.size, 0);
  });

  it('gives back a dead thread\'s share, even when it died holding the lock', () => {
    const buffer = clientTableBuffer(16, 2);
    const dead = new SharedClientTable(buffer, 0);
    const alive = new SharedClientTable(buffer, 1);
    const main = new SharedClientTable(buffer);
    const addresses = addressPool(8);
    for (const a of addresses) {
      dead.acquire(a, 10);
      dead.acquire(a, 10);
    }
    for (const a of addresses.slice(0, 4)) alive.acquire(a, 10);
    assert.equal(main.reclaim(0), 16);
    assert.equal(main.size, 4);
    for (const a of addresses.slice(0, 4)) assert.equal(main.count(a), 1);
    for (const a of addresses.slice(4)) assert.equal(main.count(a), 0);
    // the replacement in column 0 starts from nothing
    for (const a of addresses.slice(0, 4)) dead.acquire(a, 10);
    // killed with the lock held (its id: column + 1): taken over, not waited for
    Atomics.store(new Int32Array(buffer), 0, 1);
    assert.equal(main.reclaim(0), 4);
    for (const a of addresses.slice(0, 4)) assert.equal(alive.count(a), 1);
    for (const a of addresses.slice(0, 4)) alive.release(a);
    assert.equal(main.size, 0);
  });

  it('two threads acquiring and releasing at once never pass the cap, and leave the table empty', async () => {
    const slots = 64;
    const table = clientTableBuffer(slots, 2);
    const addresses = addressPool(40);
    const check = new SharedArrayBuffer((1 + 2 * addresses.length) * 4);
    const cap = 3;
    const cycles = fuzzCount(400_000);
    const workers = [0, 1].map((column) => new Worker(WORKER, { workerData: { table, check, column, addresses, cap, cycles } satisfies TableWork }));
    await Promise.all(workers.map((w) => once(w, 'message')));
    const checks = new Int32Array(check);
    Atomics.store(checks, START, 1);
    Atomics.notify(checks, START);
    const results = await Promise.all(workers.map(async (w) => {
      const exit = once(w, 'exit');
      const [result] = (await once(w, 'message')) as [{ counted: number; full: number; uncounted: number }];
      await exit;
      return result;
    }));
    for (const r of results) {
      assert.ok(r.counted > 0 && r.full > 0, JSON.stringify(r));
      assert.equal(r.uncounted, 0);
    }
    let peaked = 0;
    for (let a = 0; a < addresses.length; a++) {
      assert.ok(checks[peakAt(a)] <= cap, `${addresses[a]} held ${checks[peakAt(a)]} places at once`);
      if (checks[peakAt(a)] === cap) peaked++;
      assert.equal(checks[heldAt(a)], 0);
    }
    assert.ok(peaked > 0);
    const main = new SharedClientTable(table);
    assert.equal(main.size, 0);
    for (const a of addresses) assert.equal(main.count(a), 0);
  });
});

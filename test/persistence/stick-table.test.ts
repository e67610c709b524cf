import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StickTable } from '../../src/persistence/stick-table.ts';

/** A table on a clock the test moves by hand. */
function table(maxEntries: number, timeout: number, start = 0) {
  const clock = { now: start };
  const t = new StickTable({ maxEntries, timeout, now: () => clock.now });
  return { t, clock };
}

describe('stick table', () => {
  it('remembers a key and counts hits and misses', () => {
    const { t } = table(10, 1000);
    assert.equal(t.get('10.0.0.0/24'), undefined);
    t.set('10.0.0.0/24', 's1');
    assert.equal(t.get('10.0.0.0/24'), 's1');
    assert.equal(t.get('10.0.0.0/24'), 's1');
    assert.deepEqual(t.counters, { hits: 2, misses: 1, expirations: 0, evictions: 0 });
  });

  it('expires an entry after its timeout of inactivity, a use restarting the timeout', () => {
    const { t, clock } = table(10, 1000, 0);
    t.set('a', 's1');
    clock.now = 900;
    assert.equal(t.get('a'), 's1'); // used: its timeout starts again
    clock.now = 1800;
    assert.equal(t.get('a'), 's1');
    assert.equal(t.peek('a')?.expiresIn, 1000);
    clock.now = 2801;
    assert.equal(t.get('a'), undefined);
    assert.deepEqual(t.counters, { hits: 2, misses: 1, expirations: 1, evictions: 0 });
    assert.equal(t.size, 0);
  });

  it('an entry lives exactly its timeout', () => {
    const { t, clock } = table(10, 1000, 5000);
    t.set('a', 's1');
    clock.now = 6000;
    assert.equal(t.peek('a')?.expiresIn, 0);
    assert.equal(t.get('a'), 's1');
    clock.now = 7001;
    assert.equal(t.get('a'), undefined);
  });

  it('evicts the least recently used entry beyond max-entries', () => {
    const { t } = table(3, 60_000);
    t.set('a', 's1');
    t.set('b', 's2');
    t.set('c', 's1');
    assert.equal(t.get('a'), 's1'); // a is now the most recent; b the least
    t.set('d', 's2');
    assert.equal(t.peek('b'), undefined);
    assert.deepEqual(t.entries().map((e) => e.key), ['d', 'a', 'c']);
    t.set('e', 's2');
    assert.deepEqual(t.entries().map((e) => e.key), ['e', 'd', 'a']);
    assert.equal(t.counters.evictions, 2);
    assert.equal(t.counters.expirations, 0);
  });

  it('counts an expired entry pushed out at max-entries as an expiration, not an eviction', () => {
    const { t, clock } = table(2, 1000, 0);
    t.set('a', 's1');
    clock.now = 600;
    t.set('b', 's1');
    clock.now = 1500; // a has expired, b has not
    t.set('c', 's2');
    assert.deepEqual(t.counters, { hits: 0, misses: 0, expirations: 1, evictions: 0 });
    t.set('d', 's2'); // b is live: evicted
    assert.deepEqual(t.counters, { hits: 0, misses: 0, expirations: 1, evictions: 1 });
  });

  it('lists live entries, most recent first, with their member and time left; drops expired ones', () => {
    const { t, clock } = table(10, 1000, 0);
    t.set('old', 's1');
    clock.now = 500;
    t.set('new', 's2');
    clock.now = 1200;
    assert.deepEqual(t.entries(), [{ key: 'new', member: 's2', expiresIn: 300 }]);
    assert.equal(t.counters.expirations, 1);
    assert.equal(t.size, 1);
    assert.deepEqual(t.entries(0), []);
  });

  it('re-pins: a set for a known key replaces its member', () => {
    const { t } = table(10, 1000);
    t.set('a', 's1');
    t.set('a', 's2');
    assert.equal(t.get('a'), 's2');
    assert.equal(t.size, 1);
  });

  it('deletes one key, the keys of one member, or all', () => {
    const { t } = table(10, 1000);
    for (const [k, m] of [['a', 's1'], ['b', 's2'], ['c', 's1'], ['d', 's2']]) t.set(k, m);
    assert.equal(t.delete('a'), true);
    assert.equal(t.delete('a'), false);
    assert.equal(t.clear('s2'), 2);
    assert.deepEqual(t.entries().map((e) => e.key), ['c']);
    assert.equal(t.clear(), 1);
    assert.equal(t.size, 0);
    assert.deepEqual(t.counters, { hits: 0, misses: 0, expirations: 0, evictions: 0 });
  });

  it('refuses a size or timeout below 1', () => {
    assert.throws(() => new StickTable({ maxEntries: 0, timeout: 1000 }), /max-entries of 1 or more/);
    assert.throws(() => new StickTable({ maxEntries: 1, timeout: 0 }), /timeout of 1 ms or more/);
  });

  it('works on the real clock without a timer (no handle keeps the process alive)', () => {
    const t = new StickTable({ maxEntries: 100, timeout: 60_000 });
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    for (let i = 0; i < 100; i++) t.set(`k${i}`, 's1');
    for (let i = 0; i < 100; i++) assert.equal(t.get(`k${i}`), 's1');
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    assert.equal(after, before);
    const expiresIn = t.peek('k0')!.expiresIn;
    assert.ok(expiresIn > 59_000 && expiresIn <= 60_000, `expiresIn ${expiresIn}`);
  });
});

// The token buckets of a rate limit (runtime/shared-rate-table.ts), with the clock given (pure:
// the unit tier, as a fuzzer of keys): a bucket's tokens and waits, a bucket that refilled leaving
// the table, the bound on keys (a new key refused while the table is full of live buckets, let in
// once some refilled), address masks (IPv4-mapped IPv6 as IPv4), header keys, the table against a
// Map model under random operations in a small table (collisions, backward-shift deletion), and
// fuzzed keys.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rateTableBuffer, SharedRateTable } from '../../src/runtime/shared-rate-table.ts';
import { fuzz, Fuzzer, fuzzCount } from '../helpers/fuzz.ts';

/** 10 a second (0.01 per ms), `burst` tokens, at most `size` keys */
function table(size: number, burst: number, rate = 0.01): SharedRateTable {
  return new SharedRateTable(rateTableBuffer(size, rate, burst));
}

describe('SharedRateTable', () => {
  it('takes a token per request; an empty bucket says the ms until the next', () => {
    const t = table(16, 3);
    assert.deepEqual([0, 0, 0].map(() => t.takeAddress('10.0.0.1', 32, 64, 1_000)), [0, 0, 0]);
    assert.equal(t.takeAddress('10.0.0.1', 32, 64, 1_000), 100);
    assert.equal(t.takeAddress('10.0.0.1', 32, 64, 1_060), 40);
    assert.equal(t.takeAddress('10.0.0.1', 32, 64, 1_100), 0);
    assert.equal(t.takeAddress('10.0.0.1', 32, 64, 1_100), 100);
    assert.deepEqual(t.counters, { passed: 4, refused: 3, full: 0 });
    // a client elsewhere has its own bucket
    assert.equal(t.takeAddress('10.0.0.2', 32, 64, 1_100), 0);
    // the clock going back takes nothing from a bucket
    assert.equal(t.takeAddress('10.0.0.2', 32, 64, 900), 0);
  });

  it('a bucket refilled to the brim leaves the table (it is as good as none)', () => {
    const t = table(16, 5);
    t.takeAddress('10.0.0.1', 32, 64, 0);
    t.takeAddress('10.0.0.2', 32, 64, 0);
    t.takeAddress('10.0.0.2', 32, 64, 0);
    assert.equal(t.used, 2);
    // one token back takes 100 ms; two, 200
    assert.equal(t.sweep(99), 2);
    assert.equal(t.sweep(100), 1);
    assert.equal(t.entries(150, 32, 64)[0].key, '10.0.0.2');
    assert.equal(t.sweep(200), 0);
    assert.deepEqual(t.entries(200, 32, 64), []);
  });

  it('holds at most its size in keys: a new key is refused while every bucket is live, let in once some refilled', () => {
    const t = table(16, 2);
    for (let i = 0; i < 16; i++) assert.equal(t.takeAddress(`10.0.1.${i}`, 32, 64, 0), 0);
    assert.equal(t.used, 16);
    assert.equal(t.takeAddress('10.0.2.1', 32, 64, 10), 1_000);
    assert.equal(t.counters.full, 1);
    // the keys there still count
    assert.equal(t.takeAddress('10.0.1.3', 32, 64, 10), 0);
    assert.ok(t.takeAddress('10.0.1.3', 32, 64, 10) > 0);
    // 100 ms later the others' buckets are full again: a sweep makes room
    assert.equal(t.takeAddress('10.0.2.1', 32, 64, 100), 0);
    assert.ok(t.used <= 16);
    assert.equal(t.counters.full, 1);
  });

  it('masks addresses: IPv4 to ipv4 bits, IPv6 to ipv6 bits; an IPv4-mapped IPv6 address is its IPv4 address', () => {
    const t = table(64, 1);
    assert.equal(t.takeAddress('192.0.2.1', 24, 64, 0), 0);
    assert.ok(t.takeAddress('192.0.2.200', 24, 64, 0) > 0);
    assert.ok(t.takeAddress('::ffff:192.0.2.7', 24, 64, 0) > 0);
    assert.equal(t.takeAddress('192.0.3.1', 24, 64, 0), 0);
    assert.equal(t.takeAddress('2001:db8:0:1::1', 24, 64, 0), 0);
    assert.ok(t.takeAddress('2001:db8:0:1:ffff::2', 24, 64, 0) > 0);
    assert.equal(t.takeAddress('2001:db8:0:2::1', 24, 64, 0), 0);
    // a mask that is not on a byte boundary
    assert.equal(t.takeAddress('10.9.0.1', 12, 64, 0), 0);
    assert.ok(t.takeAddress('10.15.255.255', 12, 64, 0) > 0);
    assert.equal(t.takeAddress('10.16.0.0', 12, 64, 0), 0);
    const keys = t.entries(0, 24, 64).map((e) => e.key).sort();
    assert.ok(keys.includes('192.0.2.0/24'));
    assert.ok(keys.includes('2001:db8:0:1::/64'));
    // not an address (a unix socket's peer): let through, not counted
    assert.equal(t.takeAddress('', 32, 64, 0), -1);
    assert.equal(t.takeAddress('not an address', 32, 64, 0), -1);
  });

  it('keys by header value: each value its bucket, shown by its first 32 bytes', () => {
    const t = table(64, 1);
    assert.equal(t.takeHeader('alpha', 0), 0);
    assert.ok(t.takeHeader('alpha', 0) > 0);
    assert.equal(t.takeHeader('beta', 0), 0);
    // a header value that spells an address is not that address's bucket
    assert.equal(t.takeHeader('10.0.0.1', 0), 0);
    assert.equal(t.takeAddress('10.0.0.1', 32, 64, 0), 0);
    const long = 'k'.repeat(40);
    assert.equal(t.takeHeader(long, 0), 0);
    const keys = t.entries(0, 32, 64).map((e) => e.key);
    assert.ok(keys.includes('alpha'));
    assert.ok(keys.includes(`${'k'.repeat(32)}…`));
    const alpha = t.entries(0, 32, 64).find((e) => e.key === 'alpha')!;
    assert.deepEqual({ passed: alpha.passed, refused: alpha.refused, tokens: alpha.tokens }, { passed: 1, refused: 1, tokens: 0 });
  });

  it('gives what a Map of buckets gives, under random requests over time in a small table', () => {
    const runs = fuzzCount(300);
    for (let run = 0; run < runs; run++) {
      const f = new Fuzzer(run + 7);
      const rate = 0.001 * (1 + f.int(20));
      const burst = 1 + f.int(4);
      // 8 keys at most in 16 slots: long runs, wrapping, removals in the middle of runs
      const t = table(8, burst, rate);
      const keys = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? `10.0.0.${i}` : `2001:db8::${i}`));
      const model = new Map<string, { tokens: number; last: number }>();
      let now = 0;
      for (let op = 0; op < 200; op++) {
        now += f.int(3) === 0 ? f.int(2_000) : f.int(5);
        const k = f.pick(keys);
        let b = model.get(k);
        if (b === undefined) model.set(k, (b = { tokens: burst, last: now }));
        b.tokens = Math.min(burst, b.tokens + Math.max(0, now - b.last) * rate);
        b.last = now;
        const want = b.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / rate));
        if (want === 0) b.tokens -= 1;
        assert.equal(t.takeAddress(k, 32, 128, now), want, `run ${run} op ${op}`);
        assert.ok(t.used <= 8);
      }
      // what is left is what has not refilled
      const live = [...model.values()].filter((b) => b.tokens + (now - b.last) * rate < burst).length;
      assert.equal(t.sweep(now), live, `run ${run}`);
    }
  });

  it('takes any text as an address or a header value without throwing, and stays within its size', () => {
    const t = table(32, 2);
    const seeds = ['10.0.0.1', '::ffff:10.0.0.1', '2001:db8::1', 'fe80::1%eth0', '255.255.255.255', '::', 'api-key-123'];
    let now = 0;
    fuzz(41, fuzzCount(30_000), (f) => f.mutate(Buffer.from(f.pick(seeds)), [':', '.', '::ffff:', '%', '/', '0', '255']), (input, i) => {
      const text = input.toString('latin1');
      now += i % 7;
      const a = t.takeAddress(text, 1 + (i % 32), 1 + (i % 128), now);
      const h = t.takeHeader(text, now);
      assert.ok(a >= -1 && Number.isInteger(a));
      assert.ok(h >= 0 && Number.isInteger(h));
      assert.ok(t.used <= 32);
    });
    for (const e of t.entries(now, 32, 64)) assert.ok(e.tokens >= 0 && e.tokens <= 2);
  });
});

it('a header value is the same key wherever it lies in the text it is read from', () => {
  const t = table(16, 1);
  assert.equal(t.takeHeader('x-api-key: alpha\r\n', 0, 11, 16), 0);
  assert.ok(t.takeHeader('host: a\r\nx-api-key: alpha\r\n', 0, 20, 25) > 0);
  assert.ok(t.takeHeader('alpha', 0) > 0);
  assert.deepEqual(t.entries(0, 32, 64).map((e) => e.key), ['alpha']);
});

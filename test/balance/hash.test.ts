import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashString, mix32, rehash } from '../../src/balance/hash.ts';

test('hashString is a deterministic unsigned 32-bit value', () => {
  for (const s of ['', 'a', '10.0.0.1', '192.168.1.1:80', 'ünïcödé']) {
    const h = hashString(s);
    assert.equal(h, hashString(s));
    assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff, `${s} -> ${h}`);
  }
  assert.notEqual(hashString('10.0.0.1'), hashString('10.0.0.2'));
});

test('hashString spreads similar keys evenly over buckets', () => {
  const buckets = new Array<number>(16).fill(0);
  const keys = 16000;
  for (let i = 0; i < keys; i++) buckets[hashString(`10.0.${i >> 8}.${i & 255}`) % 16]++;
  for (const count of buckets) assert.ok(Math.abs(count - keys / 16) < keys / 16 * 0.1, `bucket ${count}`);
});

test('mix32 flips about half the output bits per input bit', () => {
  let flipped = 0;
  for (let bit = 0; bit < 32; bit++) {
    const diff = mix32(0x12345678) ^ mix32(0x12345678 ^ (1 << bit));
    for (let b = diff >>> 0; b !== 0; b >>>= 1) flipped += b & 1;
  }
  assert.ok(Math.abs(flipped / 32 - 16) < 3, `mean flipped bits ${flipped / 32}`);
});

test('rehash gives a different value per attempt', () => {
  const seen = new Set<number>();
  for (let attempt = 1; attempt <= 16; attempt++) seen.add(rehash(42, attempt));
  assert.equal(seen.size, 16);
  assert.equal(rehash(42, 3), rehash(42, 3));
});

// sameValue (config/same-value.ts) decides as util.isDeepStrictEqual does, on random pairs of
// config-like values made to differ in one small way (or not at all), and on the odd ones.

import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { describe, it } from 'node:test';
import { sameValue } from '../../src/config/same-value.ts';
import { Fuzzer, fuzzCount } from '../helpers/fuzz.ts';

const LEAVES: unknown[] = [0, -0, 1, NaN, Infinity, '', '0', 'a', true, false, null, undefined, 1n, Buffer.from('a'), /a/, new Map([[1, 2]])];

function value(f: Fuzzer, depth: number): unknown {
  const kind = depth > 3 ? 0 : f.int(4);
  if (kind === 0) return f.pick(LEAVES);
  if (kind === 1) return Array.from({ length: f.int(4) }, () => value(f, depth + 1));
  const out: Record<string, unknown> = kind === 3 && f.int(8) === 0 ? Object.create(null) : {};
  for (let i = f.int(4); i > 0; i--) out[f.pick(['a', 'b', 'c', '0'])] = value(f, depth + 1);
  return out;
}

/** A copy of `v`, sometimes with one change somewhere (a leaf swapped, a key added or dropped, an item added). */
function copy(f: Fuzzer, v: unknown, change: { left: boolean }): unknown {
  const swap = change.left && f.int(6) === 0;
  if (swap) change.left = false;
  if (Array.isArray(v)) {
    const out = v.map((item) => copy(f, item, change));
    if (swap) out.push(f.pick(LEAVES));
    return out;
  }
  if (v !== null && typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)) {
    const out: Record<string, unknown> = Object.getPrototypeOf(v) === null ? Object.create(null) : {};
    for (const [k, item] of Object.entries(v)) out[k] = copy(f, item, change);
    if (swap) {
      const key = f.pick(['a', 'b', 'd']);
      if (key in out) delete out[key];
      else out[key] = undefined;
    }
    return out;
  }
  return swap ? f.pick(LEAVES) : v;
}

describe('sameValue', () => {
  it('agrees with isDeepStrictEqual on random pairs, alike and nearly alike', () => {
    const f = new Fuzzer(31);
    let equal = 0;
    const cases = fuzzCount(20_000);
    for (let i = 0; i < cases; i++) {
      const a = value(f, 0);
      const b = f.int(3) === 0 ? value(f, 0) : copy(f, a, { left: f.int(2) === 0 });
      const expected = isDeepStrictEqual(a, b);
      if (expected) equal++;
      assert.equal(sameValue(a, b), expected, `${String(i)}: ${JSON.stringify([a, b], (_k, x) => (typeof x === 'bigint' ? `${x}n` : x === undefined ? '<undefined>' : x))}`);
    }
    // both answers are common: the test can tell one from the other
    assert.ok(equal > cases * 0.2 && equal < cases * 0.8, String(equal));
  });

  it('tells holes, extra array keys, and prototypes apart as isDeepStrictEqual does', () => {
    const withKey = Object.assign([1], { x: 1 });
    const pairs: [unknown, unknown][] = [
      [[1, , 3], [1, undefined, 3]], [withKey, [1]], [{}, Object.create(null)], [{ a: undefined }, {}], [[0], [-0]], [[NaN], [NaN]],
    ];
    for (const [a, b] of pairs) assert.equal(sameValue(a, b), isDeepStrictEqual(a, b), JSON.stringify([a, b]));
  });
});

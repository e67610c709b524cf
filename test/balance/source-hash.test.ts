import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashString } from '../../src/balance/hash.ts';
import { buildSlots, SourceHash } from '../../src/balance/source-hash.ts';
import { named, type TestCandidate, weighted } from './helpers.ts';

const KEYS = Array.from({ length: 10000 }, (_, i) => hashString(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`));

function assign(balancer: SourceHash<TestCandidate>): string[] {
  return KEYS.map((hash) => balancer.pick(hash, null)?.id ?? '-');
}

test('the same key always reaches the same member', () => {
  const balancer = new SourceHash(named(5));
  const first = assign(balancer);
  assert.deepEqual(assign(balancer), first);
  // and a fresh balancer over the same members agrees
  assert.deepEqual(assign(new SourceHash(named(5))), first);
});

test('the slot array holds each member weight / gcd times', () => {
  assert.deepEqual([...buildSlots(weighted(4, 2, 6))], [0, 0, 1, 2, 2, 2]);
  assert.deepEqual([...buildSlots(weighted(1, 0, 1))], [0, 2]);
  assert.equal(buildSlots(weighted(0, 0)).length, 0);
});

test('keys spread in proportion to weight', () => {
  const counts = new Map<string, number>();
  for (const id of assign(new SourceHash(weighted(1, 2, 3, 4)))) counts.set(id, (counts.get(id) ?? 0) + 1);
  [1, 2, 3, 4].forEach((w, i) => {
    const share = counts.get(String.fromCharCode(97 + i))! / KEYS.length;
    assert.ok(Math.abs(share - w / 10) < 0.02, `${w}: ${share}`);
  });
});

test('when a member goes down only its keys move, spread over the others, and return after', () => {
  const list = named(5);
  const balancer = new SourceHash(list);
  const before = assign(balancer);
  list[2].usable = false;
  const during = assign(balancer);
  const movedTo = new Map<string, number>();
  for (let k = 0; k < KEYS.length; k++) {
    if (before[k] === 'c') movedTo.set(during[k], (movedTo.get(during[k]) ?? 0) + 1);
    else assert.equal(during[k], before[k]);
  }
  assert.equal(movedTo.get('c'), undefined);
  assert.equal(movedTo.size, 4);
  for (const count of movedTo.values()) assert.ok(count > 300, `moved ${[...movedTo]}`);
  list[2].usable = true;
  assert.deepEqual(assign(balancer), before);
});

test('a key whose member was tried (skip) goes to the same fallback every time', () => {
  const list = named(4);
  const balancer = new SourceHash(list);
  const hash = KEYS[0];
  const first = balancer.pick(hash, null)!;
  const second = balancer.pick(hash, [first])!;
  assert.notEqual(second, first);
  assert.equal(balancer.pick(hash, [first]), second);
  const third = balancer.pick(hash, [first, second])!;
  assert.ok(third !== first && third !== second);
  assert.equal(balancer.pick(hash, list), undefined);
});

test('update with the same ids and weights keeps the mapping; a weight change rebuilds it', () => {
  const list = weighted(1, 1, 1);
  const balancer = new SourceHash(list);
  const before = assign(balancer);
  balancer.update(list.map((c) => ({ ...c })));
  assert.deepEqual(assign(balancer), before);
  list[0].weight = 0;
  balancer.update(list);
  assert.ok(!assign(balancer).includes('a'));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashString } from '../../src/balance/hash.ts';
import { buildTable, Maglev } from '../../src/balance/maglev.ts';
import { candidate, type TestCandidate } from './helpers.ts';

const KEYS = Array.from({ length: 10000 }, (_, i) => hashString(`client-${i}`));

function members(count: number): TestCandidate[] {
  return Array.from({ length: count }, (_, i) => candidate(`10.0.0.${i + 1}:80`));
}

function assign(balancer: Maglev<TestCandidate>): string[] {
  return KEYS.map((hash) => balancer.pick(hash, null)?.id ?? '-');
}

function moved(before: string[], after: string[]): number {
  let count = 0;
  for (let k = 0; k < before.length; k++) if (before[k] !== after[k]) count++;
  return count;
}

test('the table is balanced within a few percent', () => {
  for (const n of [3, 7, 10, 100]) {
    const shares = new Maglev(members(n)).shares();
    const ideal = 65537 / n;
    for (const share of shares) assert.ok(Math.abs(share - ideal) / ideal < 0.03, `n=${n}: ${share} vs ${ideal}`);
  }
});

test('weights are respected: shares follow weight', () => {
  const list = members(4);
  [1, 2, 3, 4].forEach((w, i) => (list[i].weight = w));
  const shares = new Maglev(list).shares();
  [1, 2, 3, 4].forEach((w, i) => {
    const share = shares[i] / 65537;
    assert.ok(Math.abs(share - w / 10) < 0.01, `weight ${w}: ${share}`);
  });
});

test('weight 0 holds no entries', () => {
  const list = members(3);
  list[1].weight = 0;
  const balancer = new Maglev(list);
  assert.equal(balancer.shares()[1], 0);
  assert.ok(!assign(balancer).includes(list[1].id));
});

test('the same key always reaches the same member, whatever the order of the list', () => {
  const list = members(6);
  const before = assign(new Maglev(list));
  assert.deepEqual(assign(new Maglev(list)), before);
  assert.deepEqual(assign(new Maglev([...list].reverse())), before);
});

for (const n of [5, 7, 10]) {
  test(`when 1 of ${n} goes down only its ~1/${n} of keys move, and they return when it comes back`, () => {
    const list = members(n);
    const balancer = new Maglev(list);
    const before = assign(balancer);
    const down = list[n >> 1];
    down.usable = false;
    const during = assign(balancer);
    for (let k = 0; k < KEYS.length; k++) {
      if (before[k] !== down.id) assert.equal(during[k], before[k], 'a key of a healthy member moved');
      else assert.notEqual(during[k], down.id);
    }
    assert.ok(moved(before, during) / KEYS.length < 1 / n + 0.02, `moved ${moved(before, during)}`);
    down.usable = true;
    assert.deepEqual(assign(balancer), before);
  });

  test(`when 1 of ${n} is removed from the pool about 1/${n} of keys move, and they return when it is added back`, () => {
    const list = members(n);
    const balancer = new Maglev(list);
    const before = assign(balancer);
    const removed = list[1];
    balancer.update(list.filter((c) => c !== removed));
    const after = assign(balancer);
    // Maglev is near-minimal, not minimal, on a rebuild: allow a few percent more than 1/n.
    assert.ok(moved(before, after) / KEYS.length < 1 / n + 0.03, `moved ${moved(before, after)}`);
    assert.ok(!after.includes(removed.id));
    balancer.update(list);
    assert.deepEqual(assign(balancer), before);
  });
}

test('a down member\'s keys spread over the others in proportion', () => {
  const list = members(5);
  const balancer = new Maglev(list);
  const before = assign(balancer);
  list[0].usable = false;
  const during = assign(balancer);
  const counts = new Map<string, number>();
  for (let k = 0; k < KEYS.length; k++) if (before[k] === list[0].id) counts.set(during[k], (counts.get(during[k]) ?? 0) + 1);
  const movedKeys = [...counts.values()].reduce((a, b) => a + b, 0);
  assert.equal(counts.size, 4);
  for (const count of counts.values()) assert.ok(Math.abs(count / movedKeys - 0.25) < 0.06, `${[...counts]}`);
});

test('skip and unusable members fall back deterministically; none eligible gives undefined', () => {
  const list = members(4);
  const balancer = new Maglev(list, { tableSize: 251 });
  const first = balancer.pick(KEYS[0], null)!;
  const second = balancer.pick(KEYS[0], [first])!;
  assert.notEqual(second, first);
  assert.equal(balancer.pick(KEYS[0], [first]), second);
  for (const c of list) c.usable = c === list[3];
  assert.equal(balancer.pick(KEYS[0], null), list[3]);
  assert.equal(balancer.pick(KEYS[0], [list[3]]), undefined);
});

test('a small prime table size works and a non-prime is refused', () => {
  assert.equal(buildTable(members(3), 13).length, 13);
  assert.ok(!buildTable(members(3), 13).includes(-1));
  assert.throws(() => new Maglev(members(3), { tableSize: 1000 }), RangeError);
  assert.equal(new Maglev([]).pick(1, null), undefined);
});

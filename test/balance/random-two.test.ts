import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RandomTwo } from '../../src/balance/random-two.ts';
import { candidate, named, seededRandom, tally } from './helpers.ts';

test('of two candidates, the less loaded always wins', () => {
  const list = [candidate('a', { active: 3 }), candidate('b', { active: 2 })];
  const counts = tally(new RandomTwo(list, { random: seededRandom(1) }), 1000);
  assert.deepEqual([...counts], [['b', 1000]]);
});

test('the most loaded of three is never chosen; the least loaded wins about 2/3', () => {
  // the least loaded is in a random pair 2/3 of the time and then always wins
  const list = [candidate('a', { active: 10 }), candidate('b', { active: 0 }), candidate('c', { active: 5 })];
  const picks = 30000;
  const counts = tally(new RandomTwo(list, { random: seededRandom(7) }), picks);
  assert.equal(counts.get('a'), undefined);
  assert.ok(Math.abs(counts.get('b')! / picks - 2 / 3) < 0.02, `b ${counts.get('b')}`);
  assert.ok(Math.abs(counts.get('c')! / picks - 1 / 3) < 0.02, `c ${counts.get('c')}`);
});

test('with equal load the choice is uniform', () => {
  const list = named(5);
  const picks = 50000;
  const counts = tally(new RandomTwo(list, { random: seededRandom(3) }), picks);
  for (const c of list) assert.ok(Math.abs(counts.get(c.id)! / picks - 0.2) < 0.015, `${c.id} ${counts.get(c.id)}`);
});

test('load is compared by weight: (active + 1) / weight', () => {
  // a: 7/4 = 1.75, b: 2/1 = 2 — a has more connections but more capacity
  const list = [candidate('a', { weight: 4, active: 6 }), candidate('b', { weight: 1, active: 1 })];
  const counts = tally(new RandomTwo(list, { random: seededRandom(5) }), 200);
  assert.deepEqual([...counts], [['a', 200]]);
});

test('holding connections open spreads them far more evenly than a single random choice', () => {
  const list = named(10);
  tally(new RandomTwo(list, { random: seededRandom(11) }), 10000, (chosen) => chosen.active++);
  const actives = list.map((c) => c.active);
  // a single random choice would spread by ~±100 here; two choices keep it within a few
  assert.ok(Math.max(...actives) - Math.min(...actives) <= 4, `${actives}`);
});

test('finds the one eligible candidate among many ineligible', () => {
  const list = named(200).map((c) => ({ ...c, usable: false }));
  list[137].usable = true;
  const balancer = new RandomTwo(list, { random: seededRandom(9) });
  for (let i = 0; i < 100; i++) assert.equal(balancer.pick(i, null)?.id, list[137].id);
  assert.equal(balancer.pick(0, [list[137]]), undefined);
});

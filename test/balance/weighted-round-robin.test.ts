import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeightedRoundRobin } from '../../src/balance/weighted-round-robin.ts';
import { sequence, tally, weighted } from './helpers.ts';

test('smooth weighted round-robin interleaves: 5,1,1 gives a a b a c a a', () => {
  const balancer = new WeightedRoundRobin(weighted(5, 1, 1));
  assert.equal(sequence(balancer, 14), 'a a b a c a a a a b a c a a');
});

test('equal weights are plain round-robin', () => {
  assert.equal(sequence(new WeightedRoundRobin(weighted(2, 2, 2)), 6), 'a b c a b c');
});

test('each cycle of sum(weights) picks gives every candidate exactly its weight', () => {
  for (const weights of [[3, 2, 1], [1, 10], [7, 7, 1, 4], [100, 1, 50, 25, 3]]) {
    const balancer = new WeightedRoundRobin(weighted(...weights));
    const total = weights.reduce((a, b) => a + b, 0);
    for (let cycle = 0; cycle < 3; cycle++) {
      const counts = tally(balancer, total);
      weights.forEach((w, i) => assert.equal(counts.get(String.fromCharCode(97 + i)) ?? 0, w, `${weights}`));
    }
  }
});

test('a heavy member is never given a long burst: 3,1 never picks b twice in a row', () => {
  assert.equal(sequence(new WeightedRoundRobin(weighted(3, 1)), 8), 'a a b a a a b a');
});

test('weight 0 is never chosen', () => {
  const balancer = new WeightedRoundRobin(weighted(0, 2, 0, 1));
  assert.equal(sequence(balancer, 6), 'b d b b d b');
  assert.equal(new WeightedRoundRobin(weighted(0, 0)).pick(0, null), undefined);
});

test('an unusable member is left out and the rest keep their proportions', () => {
  const list = weighted(2, 1, 1);
  const balancer = new WeightedRoundRobin(list);
  list[0].usable = false;
  const counts = tally(balancer, 100);
  assert.equal(counts.get('a'), undefined);
  assert.equal(counts.get('b'), 50);
  assert.equal(counts.get('c'), 50);
});

test('fractional weights keep their ratio', () => {
  const counts = tally(new WeightedRoundRobin(weighted(0.5, 1.5)), 400);
  assert.equal(counts.get('a'), 100);
  assert.equal(counts.get('b'), 300);
});

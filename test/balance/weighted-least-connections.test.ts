import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeightedLeastConnections } from '../../src/balance/weighted-least-connections.ts';
import { candidate, sequence, tally, weighted } from './helpers.ts';

test('weighted-least-connections chooses the lowest (active + 1) / weight', () => {
  // scores: a 11/2 = 5.5, b 5/1 = 5, c 20/4 = 5: b and c tie, c beats a
  const list = [
    candidate('a', { weight: 2, active: 10 }),
    candidate('b', { weight: 1, active: 4 }),
    candidate('c', { weight: 4, active: 19 }),
  ];
  const balancer = new WeightedLeastConnections(list);
  assert.equal(sequence(balancer, 4), 'b c b c');
  list[0].active = 8; // 9/2 = 4.5
  assert.equal(balancer.pick(0, null)?.id, 'a');
});

test('weights count even when nothing is active', () => {
  const list = weighted(3, 1);
  assert.equal(new WeightedLeastConnections(list).pick(0, null)?.id, 'a');
});

test('with connections held open, active counts follow the weights', () => {
  const list = weighted(3, 1, 2);
  const counts = tally(new WeightedLeastConnections(list), 600, (chosen) => chosen.active++);
  assert.deepEqual([counts.get('a'), counts.get('b'), counts.get('c')], [300, 100, 200]);
});

test('equal scores take turns', () => {
  const list = [candidate('a', { weight: 2, active: 1 }), candidate('b', { weight: 1 }), candidate('c', { weight: 4, active: 3 })];
  assert.equal(sequence(new WeightedLeastConnections(list), 6), 'a b c a b c');
});

test('weight 0 is never chosen, even when idle', () => {
  const list = [candidate('a', { weight: 0 }), candidate('b', { weight: 1, active: 100 })];
  const balancer = new WeightedLeastConnections(list);
  assert.equal(sequence(balancer, 3), 'b b b');
  list[1].usable = false;
  assert.equal(balancer.pick(0, null), undefined);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeastConnections } from '../../src/balance/least-connections.ts';
import { candidate, named, sequence, tally } from './helpers.ts';

test('least-connections chooses the fewest active', () => {
  const list = [candidate('a', { active: 5 }), candidate('b', { active: 2 }), candidate('c', { active: 9 })];
  const balancer = new LeastConnections(list);
  assert.equal(sequence(balancer, 3), 'b b b');
  list[2].active = 1;
  assert.equal(balancer.pick(0, null)?.id, 'c');
});

test('least-connections ties take turns instead of the first always winning', () => {
  const list = [candidate('a'), candidate('b', { active: 4 }), candidate('c'), candidate('d')];
  assert.equal(sequence(new LeastConnections(list), 6), 'a c d a c d');
});

test('least-connections ignores weight', () => {
  const list = [candidate('a', { weight: 0, active: 1 }), candidate('b', { weight: 10, active: 2 })];
  assert.equal(new LeastConnections(list).pick(0, null)?.id, 'a');
});

test('least-connections evens out active counts when connections stay open', () => {
  const list = named(4);
  list[0].active = 10;
  const counts = tally(new LeastConnections(list), 50, (chosen) => chosen.active++);
  assert.deepEqual(list.map((c) => c.active), [15, 15, 15, 15]);
  assert.equal(counts.get('a'), 5);
});

test('least-connections skips the tried and the unusable even when they are least loaded', () => {
  const list = [candidate('a'), candidate('b', { active: 3 }), candidate('c', { active: 1, usable: false })];
  const balancer = new LeastConnections(list);
  assert.equal(balancer.pick(0, [list[0]])?.id, 'b');
  assert.equal(balancer.pick(0, [list[0], list[1]]), undefined);
});

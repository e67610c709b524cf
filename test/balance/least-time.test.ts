import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeastTime } from '../../src/balance/least-time.ts';
import { candidate, sequence, tally } from './helpers.ts';

test('least-time prefers the lower latency at equal load', () => {
  const list = [candidate('a', { latency: 30 }), candidate('b', { latency: 10 }), candidate('c', { latency: 20 })];
  assert.equal(sequence(new LeastTime(list), 3), 'b b b');
});

test('latency is weighed against load: latency * (active + 1) / weight', () => {
  // a: 10 * 4 / 1 = 40, b: 25 * 1 / 1 = 25, c: 30 * 3 / 4 = 22.5
  const list = [
    candidate('a', { latency: 10, active: 3 }),
    candidate('b', { latency: 25 }),
    candidate('c', { latency: 30, active: 2, weight: 4 }),
  ];
  const balancer = new LeastTime(list);
  assert.equal(balancer.pick(0, null)?.id, 'c');
  list[2].weight = 2; // 45
  assert.equal(balancer.pick(0, null)?.id, 'b');
});

test('a member without a sample gets tried, as fast as the fastest known', () => {
  const list = [candidate('a', { latency: 10 }), candidate('b', { latency: 0 }), candidate('c', { latency: 50 })];
  assert.equal(sequence(new LeastTime(list), 4), 'a b a b');
});

test('an unsampled member does not take every connection before its first sample', () => {
  const list = [candidate('a', { latency: 10 }), candidate('b', { latency: 10 }), candidate('new')];
  const counts = tally(new LeastTime(list), 300, (chosen) => chosen.active++);
  assert.deepEqual([counts.get('a'), counts.get('b'), counts.get('new')], [100, 100, 100]);
});

test('with no samples at all it is weighted least-connections', () => {
  const list = [candidate('a', { weight: 3 }), candidate('b', { weight: 1 })];
  const counts = tally(new LeastTime(list), 400, (chosen) => chosen.active++);
  assert.deepEqual([counts.get('a'), counts.get('b')], [300, 100]);
});

test('equal scores take turns', () => {
  const list = [candidate('a', { latency: 5 }), candidate('b', { latency: 5 }), candidate('c', { latency: 5, active: 1 })];
  assert.equal(sequence(new LeastTime(list), 4), 'a b a b');
});

test('a skipped fast member does not set the neutral latency for the unsampled', () => {
  const list = [candidate('fast', { latency: 1 }), candidate('slow', { latency: 40 }), candidate('new', { active: 1 })];
  const balancer = new LeastTime(list);
  // without "fast", new is scored at 40 * 2 = 80 against slow's 40
  assert.equal(balancer.pick(0, [list[0]])?.id, 'slow');
});

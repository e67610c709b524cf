import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoundRobin } from '../../src/balance/round-robin.ts';
import { named, sequence, weighted } from './helpers.ts';

test('round-robin goes through the candidates in order', () => {
  const balancer = new RoundRobin(named(3));
  assert.equal(sequence(balancer, 7), 'a b c a b c a');
});

test('round-robin ignores weight, including 0', () => {
  const balancer = new RoundRobin(weighted(5, 0, 1));
  assert.equal(sequence(balancer, 6), 'a b c a b c');
});

test('round-robin passes over an unusable candidate and keeps the order of the rest', () => {
  const list = named(4);
  const balancer = new RoundRobin(list);
  assert.equal(sequence(balancer, 2), 'a b');
  list[2].usable = false;
  assert.equal(sequence(balancer, 4), 'd a b d');
  list[2].usable = true;
  assert.equal(sequence(balancer, 4), 'a b c d');
});

test('round-robin with skip takes the next one after the skipped', () => {
  const list = named(3);
  const balancer = new RoundRobin(list);
  assert.equal(balancer.pick(0, [list[0]])?.id, 'b');
  assert.equal(balancer.pick(0, [list[2]])?.id, 'a');
  assert.equal(balancer.pick(0, list), undefined);
});

test('round-robin update to a shorter list starts over safely', () => {
  const list = named(5);
  const balancer = new RoundRobin(list);
  sequence(balancer, 4);
  balancer.update(list.slice(0, 2));
  assert.equal(sequence(balancer, 3), 'a b a');
  balancer.update([]);
  assert.equal(balancer.pick(0, null), undefined);
});

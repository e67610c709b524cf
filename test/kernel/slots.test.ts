// The selection tables of the kernel: which member each slot of numgen/jhash leads to.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { integerWeights, selectionSlots, type SlotMember } from '../../src/kernel/slots.ts';

const m = (id: string, extra: Partial<SlotMember> = {}): SlotMember => ({ id, weight: 1, usable: true, backup: false, ...extra });
const count = (slots: number[]): number[] => slots.reduce((acc, i) => ((acc[i] = (acc[i] ?? 0) + 1), acc), [] as number[]);

describe('selection slots', () => {
  it('round-robin: each usable member once, whatever its weight', () => {
    assert.deepEqual(selectionSlots('round-robin', [m('a', { weight: 5 }), m('b', { usable: false }), m('c', { weight: 0 })]), [0, 2]);
  });

  it('weighted: smooth, in proportion, weight 0 never', () => {
    assert.deepEqual(selectionSlots('weighted', [m('a', { weight: 5 }), m('b'), m('c'), m('d', { weight: 0 })]), [0, 0, 1, 0, 2, 0, 0]);
  });

  it('weighted: fractional weights (slow start, agent) keep their proportions', () => {
    assert.deepEqual(count(selectionSlots('weighted', [m('a', { weight: 0.25 }), m('b', { weight: 0.75 })])), [1, 3]);
  });

  it('random: runs of slots in proportion to weight', () => {
    assert.deepEqual(selectionSlots('random', [m('a', { weight: 2 }), m('b', { weight: 1 })]), [0, 0, 1]);
  });

  it('backups only when no primary is usable', () => {
    const members = [m('a', { usable: false }), m('b', { backup: true }), m('c', { backup: true })];
    assert.deepEqual(selectionSlots('round-robin', members), [1, 2]);
    assert.deepEqual(selectionSlots('round-robin', [m('a'), ...members.slice(1)]), [0]);
    assert.deepEqual(selectionSlots('round-robin', [m('a', { usable: false }), m('b', { backup: true, usable: false })]), []);
  });

  for (const method of ['source-hash', 'maglev'] as const) {
    it(`${method}: a member going down moves only its own slots`, () => {
      const up = selectionSlots(method, [m('a'), m('b'), m('c')]);
      const down = selectionSlots(method, [m('a'), m('b', { usable: false }), m('c')]);
      assert.equal(up.length, down.length);
      for (let i = 0; i < up.length; i++) {
        if (up[i] !== 1) assert.equal(down[i], up[i], `slot ${i} moved`);
        else assert.notEqual(down[i], 1);
      }
      // its keys spread over the others rather than all landing on one
      const moved = down.filter((_, i) => up[i] === 1);
      assert.deepEqual(new Set(moved), new Set([0, 2]));
    });
  }

  it('maglev: a table of a prime size, shared about evenly', () => {
    const slots = selectionSlots('maglev', [m('a'), m('b'), m('c')]);
    assert.equal(slots.length, 1021);
    for (const n of count(slots)) assert.ok(n > 300 && n < 380, String(n));
  });
});

describe('integer weights', () => {
  it('keeps proportions, divides by the gcd, and gives any positive weight one slot at least', () => {
    assert.deepEqual(integerWeights([3, 1, 0]), [3, 1, 0]);
    assert.deepEqual(integerWeights([256, 256]), [1, 1]);
    assert.deepEqual(integerWeights([100, 0.001]), [1024, 1]);
    assert.deepEqual(integerWeights([600, 600, 1]), [512, 512, 1]);
    assert.deepEqual(integerWeights([0, 0]), [0, 0]);
  });
});

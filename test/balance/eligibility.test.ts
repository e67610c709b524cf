// Rules every algorithm keeps, checked over random states: never an unusable or skipped
// candidate, never weight 0 for a weighted algorithm, and undefined exactly when none is eligible.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AlgorithmName } from '../../src/balance/index.ts';
import { ALGORITHMS, createBalancer, isWeighted } from '../../src/balance/index.ts';
import { candidate, seededRandom, type TestCandidate } from './helpers.ts';


for (const name of ALGORITHMS) {
  const weighted = isWeighted(name);
  const eligible = (c: TestCandidate, skip: readonly TestCandidate[]) =>
    c.usable && !skip.includes(c) && (!weighted || c.weight > 0);

  test(`${name}: never an unusable, skipped${weighted ? ' or weight-0' : ''} candidate; undefined only when none is eligible`, () => {
    const random = seededRandom(name.length * 7919);
    for (let round = 0; round < 300; round++) {
      const n = 1 + Math.floor(random() * 12);
      const list = Array.from({ length: n }, (_, i) =>
        candidate(`m${i}`, {
          weight: random() < 0.2 ? 0 : 1 + Math.floor(random() * 5),
          active: Math.floor(random() * 5),
          latency: random() < 0.3 ? 0 : 1 + random() * 50,
          usable: random() < 0.5,
        }),
      );
      const balancer = createBalancer(name, list);
      for (let p = 0; p < 20; p++) {
        // change state between picks, as health checks and connections do
        const flip = list[Math.floor(random() * n)];
        flip.usable = random() < 0.5;
        flip.active = Math.floor(random() * 5);
        const skip = list.filter(() => random() < 0.2);
        const chosen = balancer.pick(Math.floor(random() * 2 ** 32), skip);
        const any = list.some((c) => eligible(c, skip));
        if (chosen === undefined) assert.ok(!any, `round ${round}: undefined with an eligible candidate`);
        else assert.ok(eligible(chosen, skip), `round ${round}: chose ${chosen.id} ${JSON.stringify(chosen)}`);
      }
    }
  });

  test(`${name}: undefined for an empty list, all unusable, or all skipped`, () => {
    assert.equal(createBalancer(name, []).pick(1, null), undefined);
    const list = [candidate('a'), candidate('b'), candidate('c')];
    const balancer = createBalancer(name, list);
    assert.equal(balancer.pick(1, list), undefined);
    for (const c of list) c.usable = false;
    assert.equal(balancer.pick(1, null), undefined);
    list[1].usable = true;
    assert.equal(balancer.pick(1, null), list[1]);
  });

  test(`${name}: follows update() to a new candidate list`, () => {
    const balancer = createBalancer(name, [candidate('a'), candidate('b')]);
    balancer.pick(1, null);
    const next = [candidate('x'), candidate('y'), candidate('z')];
    balancer.update(next);
    assert.equal(balancer.algorithm, name);
    for (let i = 0; i < 20; i++) assert.ok(next.includes(balancer.pick(i * 2654435761, null)!));
  });
}

test('createBalancer refuses an unknown name', () => {
  assert.throws(() => createBalancer('fastest' as AlgorithmName, []), /unknown balancing algorithm: fastest/);
});

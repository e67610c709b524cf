// The indexed balancers (createIndexedBalancer: trees, O(log n) per pick) against the scanning
// ones they replace on the per-connection path (createBalancer: the reference, reading state
// live): over random pools, weights, slow-start ramps, latencies, skip lists, health flips,
// connections taken and given and weight changes, every pick must be the same candidate.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AlgorithmName, Balancer } from '../../src/balance/index.ts';
import { ALGORITHMS, algorithm, createBalancer, createIndexedBalancer } from '../../src/balance/index.ts';
import { fuzzCount } from '../helpers/fuzz.ts';
import { candidate, seededRandom, type TestCandidate } from './helpers.ts';

interface RampCandidate extends TestCandidate {
  ramp?: number;
}

const INDEXED = ALGORITHMS.filter((name) => algorithm(name).createIndexed !== undefined);

test('the least-* family and weighted-round-robin have an indexed form', () => {
  assert.deepEqual([...INDEXED].sort(), ['least-connections', 'least-time', 'weighted-least-connections', 'weighted-round-robin']);
});

/** A random pool: integer weights (some 0), or dyadic fractions, which both forms add up exactly. */
function pool(random: () => number, n: number): RampCandidate[] {
  const fractions = random() < 0.3;
  return Array.from({ length: n }, (_, i) => {
    const c: RampCandidate = candidate(`m${i}`, {
      weight: random() < 0.1 ? 0 : fractions ? Math.floor(random() * 16) / 4 : 1 + Math.floor(random() * 5),
      active: Math.floor(random() * 4),
      latency: random() < 0.3 ? 0 : 1 + Math.floor(random() * 8),
      usable: random() < 0.85,
    });
    if (random() < 0.1) c.ramp = (1 + Math.floor(random() * 4)) / 4;
    return c;
  });
}

function compare(name: AlgorithmName, seed: number, rounds: number, picks: number): void {
  const random = seededRandom(seed);
  for (let round = 0; round < rounds; round++) {
    const n = 1 + Math.floor(random() * (random() < 0.2 ? 200 : 12));
    let list = pool(random, n);
    const outsider = candidate('outsider');
    const reference = createBalancer(name, list);
    const indexed: Balancer<RampCandidate> = createIndexedBalancer(name, list);
    const held: RampCandidate[] = [];
    for (let p = 0; p < picks; p++) {
      const skip = random() < 0.2 ? [list[Math.floor(random() * n)], ...(random() < 0.3 ? [outsider] : [])] : null;
      const want = reference.pick(0, skip);
      const got = indexed.pick(0, skip);
      assert.equal(got?.id, want?.id, `${name} seed ${seed} round ${round} pick ${p} (n=${n})`);
      if (want !== undefined && random() < 0.7) {
        want.active++;
        held.push(want);
        indexed.changed(want);
      }
      const r = random();
      if (r < 0.3 && held.length > 0) {
        const done = held.splice(Math.floor(random() * held.length), 1)[0];
        done.active--;
        indexed.changed(done);
      } else if (r < 0.45) {
        const flip = list[Math.floor(random() * n)];
        flip.usable = !flip.usable;
        indexed.changed(flip);
      } else if (r < 0.55) {
        const sample = list[Math.floor(random() * n)];
        sample.latency = random() < 0.2 ? 0 : 1 + Math.floor(random() * 8);
        indexed.changed(sample);
      } else if (r < 0.58) {
        const ramped = list[Math.floor(random() * n)];
        ramped.ramp = random() < 0.5 ? undefined : (1 + Math.floor(random() * 4)) / 4;
        indexed.changed(ramped);
      } else if (r < 0.59) {
        // a weight change (slow start, an operator, an agent): told like any other change; the
        // smooth round-robin keeps its cycle going, with the new weight from the next pick
        const reweighed = list[Math.floor(random() * n)];
        reweighed.weight = random() < 0.2 ? 0 : random() < 0.5 ? Math.floor(random() * 16) / 4 : 1 + Math.floor(random() * 40);
        indexed.changed(reweighed);
      } else if (r < 0.6) {
        // a reload: both rebuild
        list = list.slice();
        list[Math.floor(random() * n)].weight = Math.floor(random() * 6);
        if (random() < 0.5) list.reverse();
        reference.update(list);
        indexed.update(list);
      }
    }
  }
}

for (const name of INDEXED) {
  test(`${name}: the indexed form makes the same picks as the scan`, () => {
    compare(name, 1000 + name.length, fuzzCount(400), 200);
  });
}

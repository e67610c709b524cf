// The registry is the one list of algorithms: what it says of each (name, hash, weights, kernel
// form) must be what the algorithm does, since the config, the data planes, slow start and the
// kernel all act on it without asking the algorithm itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { algorithm, ALGORITHMS, createBalancer, usesHash } from '../../src/balance/index.ts';
import { candidate, seededRandom, weighted } from './helpers.ts';

test('every name is listed once and builds the balancer of that name', () => {
  assert.equal(new Set(ALGORITHMS).size, ALGORITHMS.length);
  for (const name of ALGORITHMS) {
    assert.equal(algorithm(name).name, name);
    assert.equal(createBalancer(name, weighted(1, 2)).algorithm, name);
  }
});

test('an algorithm that does not use the hash picks the same whatever hash it is given', () => {
  for (const name of ALGORITHMS.filter((n) => !usesHash(n) && n !== 'random-two')) {
    const random = seededRandom(name.length);
    const a = createBalancer(name, weighted(3, 1, 2));
    const b = createBalancer(name, weighted(3, 1, 2));
    for (let i = 0; i < 200; i++) {
      assert.equal(a.pick(0, null)?.id, b.pick(Math.floor(random() * 2 ** 32), null)?.id, `${name}, pick ${i}`);
    }
  }
});

test('an algorithm that uses the hash sends different keys to different members', () => {
  for (const name of ALGORITHMS.filter(usesHash)) {
    const balancer = createBalancer(name, [candidate('a'), candidate('b'), candidate('c')]);
    const chosen = new Set<string | undefined>();
    for (let key = 0; key < 64; key++) chosen.add(balancer.pick(Math.imul(key, 2654435761) >>> 0, null)?.id);
    assert.equal(chosen.size, 3, name);
  }
});

test('a kernel note names the algorithm it replaces; an algorithm the kernel runs as is has none', () => {
  for (const name of ALGORITHMS) {
    const { method, note } = algorithm(name).kernel;
    if (note === null) assert.ok(name === method || (name === 'weighted-round-robin' && method === 'weighted'), name);
    else assert.ok(note.startsWith(`${name} runs as `), note);
  }
});

test('a name the config would refuse is an error, not undefined', () => {
  assert.throws(() => algorithm('fastest' as never), /unknown balancing algorithm: fastest/);
});

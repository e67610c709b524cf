// A reload sends each worker what changed (workers/config-delta.ts): the worker's merged config
// equals the new one, and what did not change keeps its very object (so runtime.apply skips it).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { applyDelta, deltaOf, type WorkerConfig } from '../../src/workers/config-delta.ts';

function config(text: string): WorkerConfig {
  const { global, logs, services, pools } = parseConfig(text, 'test.yaml', {});
  return { global, logs, services, pools };
}

const before = config(`
services:
  a: { listen: 127.0.0.1:8001, mode: tcp, pool: p }
  b: { listen: 127.0.0.1:8002, mode: tcp, pool: q }
  c: { listen: 127.0.0.1:8003, mode: tcp, pool: r }
pools:
  p: { members: [ { address: 127.0.0.1:9001 } ] }
  q: { members: [ { address: 127.0.0.1:9002 } ] }
  r: { members: [ { address: 127.0.0.1:9003 } ] }
`);
// b's pool changed (a weight), c and r removed, d and s added; a and p as they were (parsed anew)
const AFTER = `
services:
  a: { listen: 127.0.0.1:8001, mode: tcp, pool: p }
  b: { listen: 127.0.0.1:8002, mode: tcp, pool: q }
  d: { listen: 127.0.0.1:8004, mode: tcp, pool: s }
pools:
  p: { members: [ { address: 127.0.0.1:9001 } ] }
  q: { members: [ { address: 127.0.0.1:9002, weight: 5 } ] }
  s: { members: [ { address: 127.0.0.1:9004 } ] }
`;
const after = config(AFTER);

describe('config delta to the workers', () => {
  it('sends the added and changed services and pools, names the removed ones, and the merge is the new config', () => {
    const delta = deltaOf(before, after);
    assert.equal(delta.whole, false);
    assert.deepEqual(Object.keys(delta.services), ['d']);
    assert.deepEqual(Object.keys(delta.pools).sort(), ['q', 's']);
    assert.deepEqual(delta.removedServices, ['c']);
    assert.deepEqual(delta.removedPools, ['r']);
    const merged = applyDelta(before, structuredClone(delta));
    assert.deepEqual(merged, after);
    // unchanged: the worker's own objects, which runtime.apply() recognises with ===
    assert.equal(merged.pools.p, before.pools.p);
    assert.equal(merged.services.a, before.services.a);
    assert.notEqual(merged.pools.q, before.pools.q);
  });

  it('sends everything to a worker that holds nothing yet, and nothing else when nothing changed', () => {
    const first = deltaOf(null, after);
    assert.equal(first.whole, true);
    assert.deepEqual(applyDelta(null, structuredClone(first)), after);
    const none = deltaOf(after, config(AFTER));
    assert.deepEqual([Object.keys(none.services), Object.keys(none.pools), none.removedServices, none.removedPools], [[], [], [], []]);
  });
});

// A member's traffic list (member-traffic.ts): entries in the order they joined, each in one
// list at most, joining twice or leaving a list it is not in changes nothing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrafficList, type TrafficLinks } from '../../src/runtime/member-traffic.ts';

interface Entry extends TrafficLinks<Entry> {
  name: string;
}

let named = 0;
function entry(): Entry {
  return { name: `e${++named}`, trafficPrev: null, trafficNext: null, trafficList: null };
}

describe('a member traffic list', () => {
  it('keeps the order of joining through leaves at the front, middle and end', () => {
    const list = new TrafficList<Entry>();
    const [a, b, c, d, e] = [entry(), entry(), entry(), entry(), entry()];
    for (const t of [a, b, c, d, e]) list.add(t);
    assert.deepEqual(list.toArray(), [a, b, c, d, e]);
    assert.equal(list.delete(c), true);
    assert.equal(list.delete(a), true);
    assert.equal(list.delete(e), true);
    assert.deepEqual(list.toArray(), [b, d]);
    assert.equal(list.size, 2);
    list.add(a);
    assert.deepEqual(list.toArray(), [b, d, a]);
    for (const t of [b, d, a]) list.delete(t);
    assert.deepEqual(list.toArray(), []);
    assert.equal(list.size, 0);
    list.add(c);
    assert.deepEqual(list.toArray(), [c]);
  });

  it('an entry joins once; leaving a list it is not in is a no-op', () => {
    const list = new TrafficList<Entry>();
    const [a, b] = [entry(), entry()];
    list.add(a);
    list.add(a);
    assert.equal(list.size, 1);
    assert.equal(list.delete(b), false);
    assert.equal(list.has(a), true);
    assert.equal(list.has(b), false);
    assert.equal(list.delete(a), true);
    assert.equal(list.delete(a), false);
    assert.equal(list.size, 0);
    assert.deepEqual([a.trafficPrev, a.trafficNext, a.trafficList], [null, null, null]);
  });

  it('an entry that joins another list leaves the first', () => {
    const one = new TrafficList<Entry>();
    const two = new TrafficList<Entry>();
    const [a, b] = [entry(), entry()];
    one.add(a);
    one.add(b);
    two.add(a);
    assert.deepEqual(one.toArray(), [b]);
    assert.deepEqual(two.toArray(), [a]);
    assert.equal(one.delete(a), false);
    assert.equal(one.size, 1);
  });
});

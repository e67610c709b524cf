// The requests awaiting their member's reply (balance-per, udp-pending.ts), without sockets: when
// an unanswered request counts against its member, and that each gives its place back once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PendingReplies } from '../../src/proxy/udp-pending.ts';
import type { Dispatcher } from '../../src/runtime/dispatch.ts';
import type { Member } from '../../src/runtime/member.ts';

function member(): Member & { told: string[] } {
  const told: string[] = [];
  return { active: 0, told, passive: { answeredAt: 0, failure: (kind: string) => told.push(kind) } } as unknown as Member & { told: string[] };
}

/** A dispatcher that gives a place back as the pool does. */
const dispatcher = { release: (m: Member) => m.active-- } as unknown as Dispatcher;

/** A request sent through `path` to `m` (which counted it as active, as the dispatcher's choice does). */
function send(pending: PendingReplies, key: string, m: Member, path: { closed: boolean }, at: number, max = 100): boolean {
  m.active++;
  const added = pending.add(key, m, path, dispatcher, null, at, max);
  if (!added) m.active--;
  return added;
}

describe('udp requests awaiting a reply', () => {
  it('an unanswered request counts against its member only when it answered no one since and its flow is open', () => {
    const pending = new PendingReplies();
    const m = member();
    const open = { closed: false };
    send(pending, 'c1#1', m, open, 1000);
    send(pending, 'c1#2', m, open, 2000);
    send(pending, 'c1#3', m, { closed: true }, 2500);
    // it answered another client at 1500: the first request was the client's fault, not the member's
    m.passive.answeredAt = 1500;
    pending.expire(3000);
    assert.deepEqual(m.told, ['no-reply'], 'only the request sent after its last answer, on a flow still open');
    assert.equal(pending.unanswered, 3);
    assert.equal(m.active, 0);
  });

  it('a retransmit holds no second place; an answer, the oldest giving way and clear() each give a place back once', () => {
    const pending = new PendingReplies();
    const [a, b] = [member(), member()];
    const path = { closed: false };
    assert.equal(send(pending, 'c1#1', a, path, 0), true);
    assert.equal(send(pending, 'c1#1', a, path, 1), false, 'a retransmit');
    assert.equal(a.active, 1);
    pending.answered('c1#1', b);
    assert.equal(a.active, 1, 'an answer from another member is not its answer');
    pending.answered('c1#1', a);
    pending.answered('c1#1', a);
    assert.equal(a.active, 0);
    for (let id = 0; id < 3; id++) send(pending, `c2#${id}`, b, path, 10 + id, 2);
    assert.deepEqual([pending.size, b.active], [2, 2], 'full: the oldest gave way, uncounted');
    pending.clear();
    assert.deepEqual([pending.size, b.active, b.told], [0, 0, []]);
  });
});

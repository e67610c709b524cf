// Which changes make a member's live traffic hear that it stopped serving (runtime.ts and
// member-down.ts), without sockets: disabled, down, agent down or maint, removed by a reload —
// and not drain, nor a change that leaves it serving. One traffic that throws spares none.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pool, single } from '../helpers/config.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import type { Member, MemberTraffic } from '../../src/runtime/member.ts';

/** A runtime with members a and b, and a traffic entry on a that counts what it hears. */
function setUp(): { runtime: Runtime; a: Member; heard: Member[] } {
  const runtime = new Runtime();
  runtime.apply(single('udp', pool('round-robin', [{ port: 1, id: 'a' }, { port: 2, id: 'b' }], {}, { health: { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'up' } })));
  const a = runtime.member('p', 'a')!;
  const heard: Member[] = [];
  const traffic = entry((member) => {
    heard.push(member);
    member.traffic.delete(traffic);
  });
  a.traffic.add(traffic);
  return { runtime, a, heard };
}

/** A traffic entry that does `memberDown` when told, in no list yet. */
function entry(memberDown: (member: Member) => void): MemberTraffic {
  return { memberDown, trafficPrev: null, trafficNext: null, trafficList: null };
}

const agent = (state: 'ready' | 'drain' | 'maint' | 'down') => ({ state, percent: 100, maxConnections: null, message: state, at: 0 });

describe('a member that stops serving', () => {
  for (const [what, change] of [
    ['disabled', (m: Member) => m.setAdmin('disabled')],
    ['marked down', (m: Member) => m.setHealth('down', 'test')],
    ['agent down', (m: Member) => m.setAgent(agent('down'))],
    ['agent maint', (m: Member) => m.setAgent(agent('maint'))],
  ] as const) {
    it(`${what}: its traffic hears it once, and leaves`, () => {
      const { a, heard } = setUp();
      change(a);
      assert.deepEqual(heard, [a]);
      assert.equal(a.traffic.size, 0);
    });
  }

  it('drain, a new weight or an agent\'s drain move nothing', () => {
    const { a, heard } = setUp();
    a.setAdmin('drain');
    a.setWeight(5);
    a.setAgent(agent('drain'));
    assert.deepEqual(heard, []);
    assert.equal(a.traffic.size, 1);
  });

  it('removed by a reload: its traffic hears it', () => {
    const { runtime, a, heard } = setUp();
    const config = runtime.config!;
    runtime.apply({ ...config, pools: { p: { ...config.pools.p, members: config.pools.p.members.filter((m) => m.id !== 'a') } } });
    assert.deepEqual(heard, [a]);
  });

  it('a traffic that throws (a bug) does not keep the others from hearing, nor reach the caller', () => {
    const { runtime, a, heard } = setUp();
    a.traffic.add(entry(() => { throw new Error('bug'); }));
    a.setAdmin('disabled');
    assert.deepEqual(heard, [a]);
    assert.equal(a.traffic.size, 0);
    assert.equal(runtime.resources.connectionsFailed, 1);
  });
});

// Passive health's state machine (runtime/passive-health.ts) on a fake clock: threshold,
// consecutive reset, growing ejection, the pool's cap, return.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PassiveHealthConfig } from '../../src/config/types.ts';
import { Member } from '../../src/runtime/member.ts';
import type { MemberChange } from '../../src/runtime/member-state.ts';
import { PassiveGroup, PassiveHealth, type PassiveClock, type PassiveOwner } from '../../src/runtime/passive-health.ts';
import { member as memberConfig, pool as poolConfig } from '../helpers/config.ts';
import { RuntimeEvents } from '../../src/runtime/events.ts';
import { Pool } from '../../src/runtime/pool.ts';

class FakeClock implements PassiveClock {
  time = 1_000_000;
  timers = new Map<number, { at: number; run: () => void }>();
  #next = 1;
  now(): number {
    return this.time;
  }
  after(ms: number, run: () => void): unknown {
    const id = this.#next++;
    this.timers.set(id, { at: this.time + ms, run });
    return id;
  }
  cancel(timer: unknown): void {
    this.timers.delete(timer as number);
  }
  advance(ms: number): void {
    this.time += ms;
    for (const [id, t] of [...this.timers]) {
      if (t.at > this.time) continue;
      this.timers.delete(id);
      t.run();
    }
  }
}

class Owner implements PassiveOwner {
  said: string[] = [];
  passiveChanged(ejected: boolean, reason: string): void {
    this.said.push(`${ejected ? 'out' : 'in'}: ${reason}`);
  }
  passiveHeld(reason: string): void {
    this.said.push(`held: ${reason}`);
  }
}

const CONFIG: PassiveHealthConfig = { failures: 5, ejection: 30_000, maxEjection: 300_000, maxEjectedPercent: 50 };

function pool(size: number, config: Partial<PassiveHealthConfig> = {}) {
  const clock = new FakeClock();
  const group = new PassiveGroup({ ...CONFIG, ...config }, clock);
  group.size = size;
  const members = Array.from({ length: size }, () => {
    const owner = new Owner();
    return { owner, health: new PassiveHealth(owner, group) };
  });
  return { clock, group, members };
}

function fail(h: PassiveHealth, n: number, kind: Parameters<PassiveHealth['failure']>[0] = 'connect'): void {
  for (let i = 0; i < n; i++) h.failure(kind);
}

describe('passive health', () => {
  it('ejects at the threshold of consecutive failures, naming them', () => {
    const { members: [a] } = pool(4);
    fail(a.health, 4);
    assert.equal(a.health.ejected, false);
    assert.equal(a.health.failures, 4);
    a.health.failure('connect');
    assert.equal(a.health.ejected, true);
    assert.equal(a.health.ejections, 1);
    assert.equal(a.health.reason, 'ejected: 5 consecutive connect failures');
    assert.deepEqual(a.owner.said, ['out: ejected: 5 consecutive connect failures, for 30 s']);
  });

  it('names a run of different failures as failures', () => {
    const { members: [a] } = pool(4);
    fail(a.health, 4, 'http-5xx');
    a.health.failure('response-timeout');
    assert.equal(a.health.reason, 'ejected: 5 consecutive failures (connects, resets, 5xx answers or timeouts)');
  });

  it('a success ends the run', () => {
    const { members: [a] } = pool(4);
    fail(a.health, 4);
    a.health.success();
    assert.equal(a.health.failures, 0);
    fail(a.health, 4);
    assert.equal(a.health.ejected, false);
  });

  it('failures: 0 is off', () => {
    const { members: [a] } = pool(4, { failures: 0 });
    fail(a.health, 100);
    assert.equal(a.health.ejected, false);
    assert.equal(a.health.failures, 0);
  });

  it('comes back when the ejection time is over, with its count cleared', () => {
    const { clock, group, members: [a] } = pool(4);
    fail(a.health, 5);
    assert.equal(a.health.ejectedUntil, clock.time + 30_000);
    assert.equal(group.ejected, 1);
    // failures while ejected (connections already under way) change nothing
    fail(a.health, 10);
    clock.advance(29_999);
    assert.equal(a.health.ejected, true);
    clock.advance(1);
    assert.equal(a.health.ejected, false);
    assert.equal(a.health.ejectedUntil, 0);
    assert.equal(a.health.failures, 0);
    assert.equal(group.ejected, 0);
    assert.equal(a.owner.said.at(-1), 'in: ejection time over');
  });

  it('each ejection in a row lasts longer, up to max-ejection', () => {
    const { clock, members: [a] } = pool(4, { maxEjection: 100_000 });
    const durations: number[] = [];
    for (let i = 0; i < 6; i++) {
      fail(a.health, 5);
      durations.push(a.health.ejectedUntil - clock.time);
      clock.advance(a.health.ejectedUntil - clock.time);
      assert.equal(a.health.ejected, false);
    }
    assert.deepEqual(durations, [30_000, 60_000, 90_000, 100_000, 100_000, 100_000]);
    assert.equal(a.health.ejections, 6);
  });

  it('a member back for as long as its last ejection starts again from the base time', () => {
    const { clock, members: [a] } = pool(4);
    fail(a.health, 5);
    clock.advance(30_000);
    fail(a.health, 5);
    assert.equal(a.health.ejectedUntil - clock.time, 60_000);
    clock.advance(60_000);
    clock.advance(60_000); // served well for as long as it was out
    fail(a.health, 5);
    assert.equal(a.health.ejectedUntil - clock.time, 30_000);
  });

  it('never ejects past max-ejected-percent, and says so once per run', () => {
    const { clock, group, members: [a, b] } = pool(2);
    fail(a.health, 5);
    fail(b.health, 7);
    assert.equal(a.health.ejected, true);
    assert.equal(b.health.ejected, false);
    assert.equal(group.ejected, 1);
    assert.equal(b.health.held, 1);
    assert.deepEqual(b.owner.said, ["held: not ejected after 5 consecutive connect failures: max-ejected-percent 50 of the pool's 2 members reached"]);
    // once a is back, b's next failure ejects it
    clock.advance(30_000);
    b.health.failure('connect');
    assert.equal(b.health.ejected, true);
    assert.equal(b.health.reason, 'ejected: 8 consecutive connect failures');
  });

  it('never empties a pool, whatever the percent', () => {
    for (const [size, percent, most] of [[1, 100, 0], [2, 100, 1], [3, 50, 1], [10, 50, 5], [10, 0, 0], [4, 99, 3]]) {
      const { group, members } = pool(size!, { maxEjectedPercent: percent });
      for (const m of members) fail(m.health, 5);
      assert.equal(group.ejected, most, `${size} members, ${percent}%`);
      assert.equal(members.filter((m) => m.health.ejected).length, most);
    }
  });

  it('dispose ends an ejection silently and frees its place', () => {
    const { clock, group, members: [a] } = pool(4);
    fail(a.health, 5);
    a.health.dispose();
    assert.equal(group.ejected, 0);
    assert.equal(clock.timers.size, 0);
    assert.equal(a.health.ejected, false);
    assert.equal(a.owner.said.length, 1);
  });

  it('a member that left its pool is never ejected again by its traffic still in progress', () => {
    // a udp request sent before a reload removed its member expires after it (udp-pending.ts)
    const { clock, group, members: [a, b] } = pool(4);
    a.health.dispose();
    fail(a.health, 5, 'no-reply');
    assert.equal(a.health.ejected, false);
    assert.equal(group.ejected, 0, 'the pool\'s cap is not spent on a member it no longer has');
    assert.equal(clock.timers.size, 0);
    assert.deepEqual(a.owner.said, []);
    fail(b.health, 5);
    assert.equal(b.health.ejected, true);
  });

  it('an ejected member takes nothing new and serves no persistent client; back only when its health is up too', () => {
    const clock = new FakeClock();
    const group = new PassiveGroup(CONFIG, clock);
    group.size = 4;
    const changes: MemberChange[] = [];
    const events = { emit: (_e: 'member', _m: Member, change: MemberChange) => changes.push(change) > 0 };
    const m = new Member('p', memberConfig({ port: 80 }), events, 'up', group);
    fail(m.passive, 5);
    assert.equal(m.available, false);
    assert.equal(m.usable, false);
    assert.equal(m.servesExisting, false);
    assert.deepEqual(changes, [{ kind: 'ejection', from: false, to: true, reason: 'ejected: 5 consecutive connect failures, for 30 s' }]);
    // its monitors find it down meanwhile: the end of the ejection does not bring it back
    m.setHealth('down', 'tcp: connection refused');
    clock.advance(30_000);
    assert.equal(m.passive.ejected, false);
    assert.equal(m.available, false);
    assert.deepEqual(changes.at(-1), { kind: 'ejection', from: true, to: false, reason: 'ejection time over' });
    m.setHealth('up', 'tcp: ok');
    assert.equal(m.available, true);
    assert.equal(m.servesExisting, true);
  });

  it('a reload applies new settings and frees the place of an ejected member it removes', () => {
    const config = poolConfig('round-robin', [{ port: 1, id: 'a' }, { port: 2, id: 'b' }, { port: 3, id: 'c' }, { port: 4, id: 'd' }]);
    const p = new Pool('p', config, new RuntimeEvents());
    fail(p.member('a')!.passive, 5);
    fail(p.member('b')!.passive, 5);
    assert.equal(p.passive.ejected, 2);
    fail(p.member('c')!.passive, 5);
    assert.equal(p.member('c')!.passive.held, 1, 'half of 4 at most');
    p.reconfigure({ ...config, members: config.members.filter((m) => m.id !== 'a'), passiveHealth: { ...config.passiveHealth, failures: 2, maxEjectedPercent: 100 } });
    assert.equal(p.passive.ejected, 1);
    assert.equal(p.passive.size, 3);
    assert.equal(p.member('b')!.passive.ejected, true, 'a kept member keeps its ejection');
    fail(p.member('d')!.passive, 2);
    assert.equal(p.member('d')!.passive.ejected, true, 'the new threshold and cap apply');
    p.close();
    assert.equal(p.passive.ejected, 0);
  });
});

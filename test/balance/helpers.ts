// Shared by the balance tests: plain mutable candidates, a seeded random source, and pools told
// of their members' changes.

import type { Balancer, Candidate } from '../../src/balance/balancer.ts';
import type { PoolConfig } from '../../src/config/types.ts';
import { RuntimeEvents } from '../../src/runtime/events.ts';
import { Pool } from '../../src/runtime/pool.ts';
import { prng } from '../helpers/fuzz.ts';

export interface TestCandidate extends Candidate {
  id: string;
  weight: number;
  active: number;
  latency: number;
  usable: boolean;
}

export function candidate(id: string, fields: Partial<TestCandidate> = {}): TestCandidate {
  return { id, weight: 1, active: 0, latency: 0, usable: true, ...fields };
}

/** Candidates named a, b, c, ... (or m0, m1, ... past 26) with the given weights. */
export function weighted(...weights: number[]): TestCandidate[] {
  return weights.map((weight, i) => candidate(name(i), { weight }));
}

export function named(count: number): TestCandidate[] {
  return Array.from({ length: count }, (_, i) => candidate(name(i)));
}

function name(i: number): string {
  return i < 26 ? String.fromCharCode(97 + i) : `m${i}`;
}

/** The ids of `count` picks with no key and no skip. */
export function sequence(balancer: Balancer<TestCandidate>, count: number, hash = 0): string {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(balancer.pick(hash, null)?.id ?? '-');
  return ids.join(' ');
}

/** How often each id is chosen in `count` picks; `onPick` may change state between picks. */
export function tally(
  balancer: Balancer<TestCandidate>,
  count: number,
  onPick: (chosen: TestCandidate, i: number) => void = () => {},
): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const chosen = balancer.pick(i, null);
    if (chosen === undefined) throw new Error('no candidate chosen');
    counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1);
    onPick(chosen, i);
  }
  return counts;
}

/** A small seeded generator, uniform in [0, 1): the fuzzers' one. */
export const seededRandom = prng;

/** A pool told of its members' changes as the runtime tells it (runtime.ts). */
export function livePool(config: PoolConfig): Pool {
  const events = new RuntimeEvents();
  const pool = new Pool('p', config, events);
  events.on('member', (member, change) => pool.memberChanged(member, change));
  return pool;
}

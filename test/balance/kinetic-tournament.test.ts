// The kinetic tournament, and the grouped race smooth weighted round-robin runs on it, under
// smooth weighted round-robin: against the values computed one by one, over random lines, ticks,
// lowered winners, candidates leaving and joining the race, a winner taken out after the tick
// that found it (a member another thread filled), and clock rebases (made frequent here);
// the grouped race also under rates that change (a weight change, slow start), new rates included.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupedRace } from '../../src/balance/grouped-race.ts';
import { KineticTournament } from '../../src/balance/kinetic-tournament.ts';
import { fuzzCount } from '../helpers/fuzz.ts';
import { seededRandom } from './helpers.ts';

const RACES = [
  ['kinetic tournament', (rebaseAt: number) => new KineticTournament(rebaseAt)],
  ['grouped race', (rebaseAt: number) => new GroupedRace(rebaseAt)],
] as const;

/** The largest value in the race, the lowest index on a tie; -1 for none. */
function largest(value: Float64Array, isIn: boolean[]): number {
  let best = -1;
  for (let k = 0; k < value.length; k++) if (isIn[k] && (best < 0 || value[k] > value[best])) best = k;
  return best;
}

for (const [name, make] of RACES) test(`${name}: the winner is the largest value now, the lowest index on a tie, across rebases`, () => {
  const random = seededRandom(4242);
  for (let round = 0; round < fuzzCount(300); round++) {
    const n = 1 + Math.floor(random() * 40);
    const race = make(1 + Math.floor(random() * 60));
    race.reset(n);
    // the values as a scan keeps them: grown by the rate each tick while in the race
    const value = new Float64Array(n);
    const rate = Float64Array.from({ length: n }, () => Math.floor(random() * 6));
    const isIn = Array.from({ length: n }, () => random() < 0.8);
    for (let i = 0; i < n; i++) race.put(i, isIn[i], 0, rate[i]);
    race.build();
    for (let step = 0; step < 400; step++) {
      const r = random();
      const i = Math.floor(random() * n);
      if (r < 0.1 && isIn[i]) {
        race.leave(i, race.now);
        isIn[i] = false;
      } else if (r < 0.2 && !isIn[i]) {
        race.join(i);
        isIn[i] = true;
      } else if (r < 0.3 && race instanceof GroupedRace) {
        // a few rates, so groups are met again, and now and then one no group has
        rate[i] = random() < 0.8 ? Math.floor(random() * 6) : 6 + Math.floor(random() * 50);
        race.setRate(i, rate[i]);
      }
      for (let k = 0; k < n; k++) if (isIn[k]) value[k] += rate[k];
      const got = race.tick();
      let want = largest(value, isIn);
      assert.equal(got, want, `round ${round} step ${step}`);
      for (let k = 0; k < n; k++) assert.equal(race.value(k), value[k], `round ${round} step ${step}: value of ${k}`);
      if (want >= 0 && random() < 0.1) {
        // it sits this pick out with the value it had before the tick; the next one wins
        race.leave(want, race.now - 1);
        isIn[want] = false;
        value[want] -= rate[want];
        want = largest(value, isIn);
        assert.equal(race.winner, want, `round ${round} step ${step}: the winner after the first left`);
      }
      if (want >= 0) {
        const total = rate.reduce((sum, w, k) => sum + (isIn[k] ? w : 0), 0);
        race.lower(want, total);
        value[want] -= total;
      }
    }
  }
});

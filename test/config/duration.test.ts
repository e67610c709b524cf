import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../src/config/duration.ts';

const any = { allowZero: true };

describe('parseDuration', () => {
  it('reads ms, s, m and h, and a bare whole number as milliseconds', () => {
    const cases: [unknown, number][] = [
      ['500ms', 500], ['2s', 2_000], ['5m', 300_000], ['1h', 3_600_000], [250, 250], ['250', 250], ['0s', 0],
    ];
    for (const [input, ms] of cases) assert.deepEqual(parseDuration(input, any), { ok: true, value: ms }, String(input));
  });

  it('refuses other spellings with the expected form', () => {
    const cases: [unknown, string][] = [
      ['5 sec', 'expected a duration like 500ms, 2s, 5m or 1h, got "5 sec"'],
      ['1.5s', 'expected a duration like 500ms, 2s, 5m or 1h, got "1.5s"'],
      ['2S', 'expected a duration like 500ms, 2s, 5m or 1h, got "2S"'],
      ['1d', 'expected a duration like 500ms, 2s, 5m or 1h, got "1d"'],
      [1.5, 'expected a duration like 500ms, 2s, 5m or 1h, got 1.5'],
      [-1, 'expected a duration like 500ms, 2s, 5m or 1h, got -1'],
      [true, 'expected a duration like 500ms, 2s, 5m or 1h, got true'],
      ['600h', 'expected a duration of at most 596h (the longest timer Node.js keeps), got "600h"'],
    ];
    for (const [input, message] of cases) assert.deepEqual(parseDuration(input, any), { ok: false, message }, String(input));
  });

  it('refuses 0 where a timeout of 0 would fire at once', () => {
    assert.deepEqual(parseDuration('0s', { allowZero: false }), { ok: false, message: 'expected a duration above 0, got "0s"' });
  });
});

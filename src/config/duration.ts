// Durations are written with a unit (`500ms`, `2s`, `5m`, `1h`) so that a reader never has to
// guess whether `timeout: 5` means seconds or milliseconds. A bare whole number is accepted as
// milliseconds, because that is what JSON writers and ${VAR} values naturally produce.

import { expected, fail, ok, type Parsed } from './issues.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const FORM = 'a duration like 500ms, 2s, 5m or 1h';
/** Node's timers overflow above this and fire at once, so a longer duration would silently be 1ms. */
const MAX_MS = 2 ** 31 - 1;

export interface DurationRules {
  /** 0 is refused where it would mean "time out immediately" rather than anything useful */
  allowZero: boolean;
}

export function parseDuration(input: unknown, rules: DurationRules): Parsed<number> {
  const ms = toMilliseconds(input);
  if (ms === undefined) return fail(expected(FORM, input));
  if (ms > MAX_MS) return fail(expected('a duration of at most 596h (the longest timer Node.js keeps)', input));
  if (ms === 0 && !rules.allowZero) return fail(expected('a duration above 0', input));
  return ok(ms);
}

function toMilliseconds(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  if (typeof input !== 'string') return undefined;
  const match = /^(\d+)(ms|s|m|h)?$/.exec(input);
  if (match === null) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] ?? 'ms'];
}

// The pool key `passive-health` (runtime/passive-health.ts): on by default, conservatively —
// only a member failing 5 times in a row with no success between is ejected, for 30 s, and
// never more than half of a pool.

import { duration, integer, optional, section } from './schema-parts.ts';
import type { PassiveHealthConfig } from './types.ts';

export const PASSIVE_DEFAULTS: PassiveHealthConfig = { failures: 5, ejection: 30_000, maxEjection: 300_000, maxEjectedPercent: 50 };

export const passiveHealthSchema = optional(
  section('a map with failures, ejection, max-ejection and max-ejected-percent', {
    failures: integer(0, 1000).default(PASSIVE_DEFAULTS.failures),
    ejection: duration({ allowZero: false }).default(PASSIVE_DEFAULTS.ejection),
    'max-ejection': duration({ allowZero: false }).default(PASSIVE_DEFAULTS.maxEjection),
    'max-ejected-percent': integer(0, 100).default(PASSIVE_DEFAULTS.maxEjectedPercent),
  }).transform((p): PassiveHealthConfig => ({
    failures: p.failures,
    ejection: p.ejection,
    maxEjection: p['max-ejection'],
    maxEjectedPercent: p['max-ejected-percent'],
  })),
);

// Deep equality of config values, as util.isDeepStrictEqual decides it, made fast for what a
// config is made of: plain objects, arrays and primitives. A reload compares every pool and
// member of the old config with the new one (to tell what changed, and what each worker needs):
// at 10,000 members isDeepStrictEqual's general machinery (cycle detection, key filtering) was
// most of that time. Anything else (a Buffer, a RegExp, a Map...) goes to isDeepStrictEqual.

import { isDeepStrictEqual } from 'node:util';

export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const proto = Object.getPrototypeOf(a);
  if (proto !== Object.getPrototypeOf(b)) return false;
  if (proto === Array.prototype) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) {
      // a hole is not undefined to isDeepStrictEqual
      if (!(i in x) || !(i in y)) return isDeepStrictEqual(a, b);
      if (!sameValue(x[i], y[i])) return false;
    }
    return Object.keys(x).length === x.length && Object.keys(y).length === y.length ? true : isDeepStrictEqual(a, b);
  }
  if (proto !== Object.prototype && proto !== null) return isDeepStrictEqual(a, b);
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  // symbol keys and non-enumerable ones: not in a config, but then the general comparison decides
  if (Object.getOwnPropertySymbols(x).length > 0 || Object.getOwnPropertySymbols(y).length > 0) return isDeepStrictEqual(a, b);
  let count = 0;
  for (const key in x) {
    if (!Object.hasOwn(x, key)) continue;
    if (!Object.hasOwn(y, key) || !sameValue(x[key], y[key])) return false;
    count++;
  }
  for (const key in y) if (Object.hasOwn(y, key)) count--;
  return count === 0;
}

// Request ids: the one a request brings, when it may be kept (bounded, visible ASCII, one field),
// or a new one. A new id is this thread's random prefix and a counter: unique across threads,
// processes and restarts without a random draw per request (crypto.randomUUID costs one, and
// its buffer refills).

import { randomBytes } from 'node:crypto';
import { nameIs, readHeaderLines, valueOf } from './header-lines.ts';

/** the longest id taken from a request; a longer one is replaced */
export const MAX_REQUEST_ID = 128;

/** 16 hex digits, drawn once per thread (each worker thread loads this module anew) */
const PREFIX = `${randomBytes(8).toString('hex')}-`;
let counter = 0;

/** A new id: `<16 hex digits>-<counter in base 36>`, e.g. `3f9c0a1b2c3d4e5f-1k`. */
export function newRequestId(): string {
  return PREFIX + (++counter).toString(36);
}

/** Whether `value` may be passed on as an id: 1 to MAX_REQUEST_ID visible ASCII characters. */
export function validRequestId(value: string): boolean {
  if (value.length === 0 || value.length > MAX_REQUEST_ID) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/**
 * The id the request's `fields` carry in the field `lower` (lowercase name), when there is
 * exactly one and it is valid; else null (none, several, or not an id we pass on).
 */
export function incomingRequestId(fields: string, lower: string): string | null {
  // the lines were read strictly with their head: this cannot throw
  const lines = readHeaderLines(fields, 0, fields.length, 400, Infinity);
  let found: string | null = null;
  for (let i = 0; i < lines.count; i++) {
    if (!nameIs(fields, lines, i, lower)) continue;
    if (found !== null) return null;
    found = valueOf(fields, lines, i);
  }
  return found !== null && validRequestId(found) ? found : null;
}

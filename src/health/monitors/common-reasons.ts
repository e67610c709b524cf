// Socket errors in words, for check reasons: the common ones named plainly, any other by the
// system's own message for its errno ("connection timed out"), else its code.

import { getSystemErrorMessage } from 'node:util';

const WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed by the peer',
  EADDRNOTAVAIL: 'address not available',
  EACCES: 'permission denied',
};

export function errorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && WORDS[e.code] !== undefined) return WORDS[e.code];
  if (typeof e?.errno === 'number' && e.errno < 0) {
    try {
      return getSystemErrorMessage(e.errno);
    } catch {
      // not a system errno: fall through
    }
  }
  if (typeof e?.code === 'string') return e.code;
  return e instanceof Error ? e.message : String(err);
}

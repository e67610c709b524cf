// The admin API's bearer token. Both sides are hashed before the comparison so that
// timingSafeEqual compares equal lengths and neither the token's length nor its content leaks
// through timing.

import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './http.ts';

export type Verdict = 'ok' | 'missing' | 'wrong';

export class TokenCheck {
  readonly #digest: Buffer | null;

  /** `token` null: no token is configured, every request passes. */
  constructor(token: string | null) {
    this.#digest = token === null ? null : digest(token);
  }

  get required(): boolean {
    return this.#digest !== null;
  }

  /** Checks an Authorization header (`Bearer <token>`). */
  verify(authorization: string | undefined): Verdict {
    if (this.#digest === null) return 'ok';
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (match === null) return 'missing';
    return timingSafeEqual(digest(match[1]), this.#digest) ? 'ok' : 'wrong';
  }
}

/** Passes when the Authorization header holds the token (or none is set); else a 401 whose message begins with `what`. */
export function demandToken(check: TokenCheck, authorization: string | undefined, what: string): void {
  const verdict = check.verify(authorization);
  if (verdict === 'ok') return;
  const challenge = { 'WWW-Authenticate': `Bearer realm="furiwake"${verdict === 'wrong' ? ', error="invalid_token"' : ''}` };
  const message = verdict === 'missing' ? `${what} the admin token: send Authorization: Bearer <admin.token>` : 'the admin token is wrong';
  throw new ApiError(401, message, { headers: challenge });
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

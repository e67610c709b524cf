// cookie persistence: the client carries its member's name in a cookie, so the balancer keeps
// no table (stateless). The name is an opaque token — a truncated HMAC-SHA256 of the member id
// under a secret — so it tells the client nothing about the servers behind the service, and no
// client can make up a token for a member it was never sent to.
//
// Three modes (HAProxy's `cookie ... insert | rewrite | prefix`):
//   insert   furiwake sets its own cookie (FWSRV=<token>) and removes it from requests, so
//            members never see it;
//   rewrite  the member sets the cookie (any value); furiwake rewrites its value to the token;
//   prefix   the member sets its own cookie (JSESSIONID=abc); furiwake sends it as
//            JSESSIONID=<token>~abc and strips `<token>~` from requests, so the member sees abc.
//
// Everything here is pure string work on header values; the http data plane calls
// `MemberCookie.fromRequest` before choosing a member and `toResponse` on the member's answer.

import { createHmac } from 'node:crypto';
import type { CookieAttributes, CookieMode, CookiePersistence } from '../config/persistence-types.ts';
import type { MemberSet, MethodContext, MethodDescriptor, MethodState, Stickable } from './method.ts';

export type { CookieAttributes };

/** 12 bytes (96 bits) of HMAC-SHA256: 16 characters of base64url. */
export const TOKEN_BYTES = 12;
/** Between the token and the application's value in prefix mode. */
export const PREFIX_SEPARATOR = '~';
/** Cookie headers longer than this are not searched (the http plane bounds headers anyway). */
const MAX_COOKIE_HEADER = 16 * 1024;

/**
 * The token naming `subject` (a member id, or its address with expose-address) within `scope`
 * (the service): base64url of the first 12 bytes of HMAC-SHA256(secret, scope NUL subject).
 * The scope keeps a cookie of one service from choosing the member of another.
 */
export function memberToken(secret: string | Buffer, scope: string, subject: string): string {
  return createHmac('sha256', secret).update(`${scope}\0${subject}`).digest().subarray(0, TOKEN_BYTES).toString('base64url');
}

/** A Set-Cookie header value: `name=value; Path=/; HttpOnly; SameSite=Lax` and so on. */
export function setCookieHeader(name: string, value: string, a: CookieAttributes): string {
  let out = `${name}=${value}; Path=${a.path}`;
  if (a.domain !== null) out += `; Domain=${a.domain}`;
  if (a.maxAge !== null) out += `; Max-Age=${a.maxAge}`;
  if (a.httpOnly) out += '; HttpOnly';
  if (a.secure) out += '; Secure';
  out += `; SameSite=${a.sameSite === 'lax' ? 'Lax' : a.sameSite === 'strict' ? 'Strict' : 'None'}`;
  return out;
}

/** One `name=value` pair of a Cookie header, with where it sits in the header. */
interface CookiePair {
  value: string;
  /** index of the pair's first character, and one past its last */
  start: number;
  end: number;
}

/** The first cookie named `name` in a Cookie header (`a=1; b=2`). */
function findCookie(header: string, name: string): CookiePair | undefined {
  if (header.length > MAX_COOKIE_HEADER) return undefined;
  let at = 0;
  while (at < header.length) {
    let end = header.indexOf(';', at);
    if (end === -1) end = header.length;
    let start = at;
    while (start < end && (header[start] === ' ' || header[start] === '\t')) start++;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trimEnd() === name) {
      let stop = end;
      while (stop > eq + 1 && (header[stop - 1] === ' ' || header[stop - 1] === '\t')) stop--;
      let value = header.slice(eq + 1, stop).trimStart();
      if (value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"') value = value.slice(1, -1);
      return { value, start, end: stop };
    }
    at = end + 1;
  }
  return undefined;
}

/** The value of the first cookie named `name` in a Cookie header; undefined when absent. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  return header === undefined ? undefined : findCookie(header, name)?.value;
}

/** The Cookie header without the first cookie named `name` ('' when nothing is left). */
export function removeCookie(header: string, name: string): string {
  const pair = findCookie(header, name);
  if (pair === undefined) return header;
  const before = header.slice(0, pair.start).replace(/;\s*$/, '');
  const after = header.slice(pair.end).replace(/^\s*;\s*/, '');
  return before === '' ? after : after === '' ? before : `${before}; ${after}`;
}

/** The Cookie header with the value of the first cookie named `name` replaced. */
function replaceCookieValue(header: string, name: string, pair: CookiePair, value: string): string {
  return `${header.slice(0, pair.start)}${name}=${value}${header.slice(pair.end)}`;
}

/** The name of the cookie a Set-Cookie header sets, its value, and the attributes after it. */
function splitSetCookie(header: string): { name: string; value: string; rest: string } | undefined {
  const semi = header.indexOf(';');
  const pair = semi === -1 ? header : header.slice(0, semi);
  const eq = pair.indexOf('=');
  if (eq === -1) return undefined;
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), rest: semi === -1 ? '' : header.slice(semi) };
}

/** A Set-Cookie header for `name` with its value replaced (rewrite); undefined for other cookies. */
export function rewriteSetCookie(header: string, name: string, value: string): string | undefined {
  const parts = splitSetCookie(header);
  return parts?.name === name ? `${name}=${value}${parts.rest}` : undefined;
}

/** A Set-Cookie header for `name` with `token~` before its value (prefix); undefined for other cookies. */
export function prefixSetCookie(header: string, name: string, token: string): string | undefined {
  const parts = splitSetCookie(header);
  return parts?.name === name ? `${name}=${token}${PREFIX_SEPARATOR}${parts.value}${parts.rest}` : undefined;
}

// ---- the codec a service uses ------------------------------------------------------------

export interface MemberCookieOptions extends CookieAttributes {
  /** the cookie's name */
  cookie: string;
  mode: CookieMode;
  secret: string | Buffer;
  /** the service's name: tokens of one service mean nothing to another */
  scope: string;
  /** name the member by its address (still signed) instead of an opaque token */
  exposeAddress: boolean;
}

/** What a member looks like to the cookie: its id, and its address for expose-address. */
export interface CookieMember {
  readonly id: string;
  readonly endpoint: string;
}

/** What a request's Cookie header says, and the header to forward to the member. */
export interface CookieRequest {
  /** the token (or address~token) the client carries; undefined when it has none */
  value: string | undefined;
  /** the Cookie header to forward: without furiwake's cookie (insert) or its prefix (prefix); undefined = none */
  forward: string | undefined;
}

export class MemberCookie {
  readonly options: MemberCookieOptions;
  /** member id -> [what the value was made from, the value] */
  readonly #values = new Map<string, [string, string]>();

  constructor(options: MemberCookieOptions) {
    this.options = options;
  }

  /** The cookie value naming `member`: its token, or `address@token` with expose-address. */
  valueFor(member: CookieMember): string {
    const { secret, scope, exposeAddress } = this.options;
    const subject = exposeAddress ? member.endpoint : member.id;
    const cached = this.#values.get(member.id);
    if (cached !== undefined && cached[0] === subject) return cached[1];
    const token = memberToken(secret, scope, subject);
    const value = exposeAddress ? `${member.endpoint}@${token}` : token;
    this.#values.set(member.id, [subject, value]);
    return value;
  }

  /**
   * The member among `members` that a cookie value names; undefined for a value that names
   * none of them (unknown, forged, from another service or an older secret). Values are not
   * secret — every client sent to a member receives its value — so a plain comparison will do.
   */
  memberOf<T extends CookieMember>(value: string | undefined, members: readonly T[]): T | undefined {
    if (value === undefined || value.length > 256) return undefined;
    for (const member of members) if (this.valueFor(member) === value) return member;
    return undefined;
  }

  /** Reads the request's Cookie header (a string, as Node joins it). */
  fromRequest(header: string | undefined): CookieRequest {
    if (header === undefined) return { value: undefined, forward: undefined };
    const { cookie, mode } = this.options;
    const pair = findCookie(header, cookie);
    if (pair === undefined) return { value: undefined, forward: header };
    if (mode === 'insert') {
      const forward = removeCookie(header, cookie);
      return { value: pair.value, forward: forward === '' ? undefined : forward };
    }
    if (mode === 'rewrite') return { value: pair.value, forward: header };
    const sep = pair.value.indexOf(PREFIX_SEPARATOR);
    if (sep === -1) return { value: undefined, forward: header };
    return { value: pair.value.slice(0, sep), forward: replaceCookieValue(header, cookie, pair, pair.value.slice(sep + 1)) };
  }

  /**
   * The Set-Cookie headers to send to the client for a response from `member`, given the
   * member's own (undefined = none) and the value the request carried. insert adds furiwake's
   * cookie unless the client already holds the right one; rewrite and prefix change the
   * member's cookie of that name and leave every other cookie alone.
   */
  toResponse(setCookies: readonly string[] | undefined, member: CookieMember, requestValue: string | undefined): readonly string[] | undefined {
    const { cookie, mode } = this.options;
    const value = this.valueFor(member);
    if (mode === 'insert') {
      if (requestValue === value) return setCookies;
      return [...(setCookies ?? []), setCookieHeader(cookie, value, this.options)];
    }
    if (setCookies === undefined) return undefined;
    return setCookies.map((header) =>
      (mode === 'rewrite' ? rewriteSetCookie(header, cookie, value) : prefixSetCookie(header, cookie, value)) ?? header);
  }
}

// ---- the method -----------------------------------------------------------------------------

/** Stateless: the member is the one the client's cookie value names. */
class CookieState<M extends Stickable> implements MethodState<M> {
  readonly table = null;
  readonly cookie: MemberCookie;

  constructor(cookie: MemberCookie) {
    this.cookie = cookie;
  }

  named(key: string, pool: MemberSet<M>): M | undefined {
    return this.cookie.memberOf(key, pool.members);
  }
}

/** The cookie values of a cookie method's state (the http plane rewrites Cookie and Set-Cookie with them); null for another method's. */
export function cookieOf(state: object): MemberCookie | null {
  return state instanceof CookieState ? state.cookie : null;
}

export const cookieMethod: MethodDescriptor<CookiePersistence> = {
  name: 'cookie',
  stateful: false,
  keySource: 'request',
  remembersChoice: false,
  kernel: null,
  create<M extends Stickable>(config: CookiePersistence, context: MethodContext): MethodState<M> {
    return new CookieState<M>(new MemberCookie({ ...config, secret: config.secret ?? context.secret, scope: context.scope, exposeAddress: config.exposeAddress }));
  },
};

// Cookie persistence as string work: signed opaque tokens (sign, verify, forgery), Set-Cookie
// attributes, reading and editing Cookie headers, and the three modes round-tripped through a
// small cookie jar that behaves as a browser's does for one path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MemberCookie,
  type MemberCookieOptions,
  memberToken,
  prefixSetCookie,
  readCookie,
  removeCookie,
  rewriteSetCookie,
  setCookieHeader,
} from '../../src/persistence/cookie.ts';

const SECRET = 'a-secret-of-some-length';
const members = [
  { id: 's1', endpoint: '10.0.0.1:8080' },
  { id: 's2', endpoint: '10.0.0.2:8080' },
  { id: 's3', endpoint: '[2001:db8::3]:8080' },
];

function codec(extra: Partial<MemberCookieOptions> = {}): MemberCookie {
  return new MemberCookie({
    cookie: 'FWSRV', mode: 'insert', secret: SECRET, scope: 'www', exposeAddress: false,
    path: '/', domain: null, httpOnly: true, secure: false, sameSite: 'lax', maxAge: null, ...extra,
  });
}

/** A browser's cookie store for one site and path: Set-Cookie in, Cookie header out. */
class Jar {
  readonly #cookies = new Map<string, string>();
  take(setCookies: readonly string[] | undefined): void {
    for (const header of setCookies ?? []) {
      const [pair] = header.split(';');
      const eq = pair.indexOf('=');
      this.#cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
  get header(): string | undefined {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

describe('member tokens', () => {
  it('are opaque, 16 base64url characters, stable for a secret, scope and member', () => {
    const token = memberToken(SECRET, 'www', 's1');
    assert.match(token, /^[A-Za-z0-9_-]{16}$/);
    assert.ok(!token.includes('s1'));
    assert.equal(memberToken(SECRET, 'www', 's1'), token);
    assert.notEqual(memberToken(SECRET, 'www', 's2'), token);
    assert.notEqual(memberToken(SECRET, 'api', 's1'), token);
    assert.notEqual(memberToken('another-secret-of-length', 'www', 's1'), token);
  });

  it('name their member; the id itself, a changed character or another key names none', () => {
    const c = codec();
    const value = c.valueFor(members[1]);
    assert.equal(c.memberOf(value, members), members[1]);
    assert.equal(c.memberOf('s2', members), undefined);
    for (let i = 0; i < value.length; i++) {
      const forged = value.slice(0, i) + (value[i] === 'A' ? 'B' : 'A') + value.slice(i + 1);
      assert.equal(c.memberOf(forged, members), undefined, `changed at ${i}`);
    }
    assert.equal(codec({ secret: 'another-secret-of-length' }).memberOf(value, members), undefined);
    assert.equal(codec({ scope: 'api' }).memberOf(value, members), undefined);
    assert.equal(c.memberOf(undefined, members), undefined);
    assert.equal(c.memberOf('x'.repeat(1000), members), undefined);
  });

  it('with expose-address show the address, still signed', () => {
    const c = codec({ exposeAddress: true });
    const value = c.valueFor(members[2]);
    assert.match(value, /^\[2001:db8::3\]:8080@[A-Za-z0-9_-]{16}$/);
    assert.equal(c.memberOf(value, members), members[2]);
    assert.equal(c.memberOf(value.replace('::3', '::2'), members), undefined);
    // the same token with the address changed: refused (the token signs the address)
    assert.equal(c.memberOf(`10.0.0.1:8080@${value.split('@')[1]}`, members), undefined);
  });
});

describe('cookie headers', () => {
  it('Set-Cookie carries Path, HttpOnly, SameSite, and Secure, Domain, Max-Age when set', () => {
    const base = { path: '/', domain: null, httpOnly: true, secure: false, sameSite: 'lax', maxAge: null } as const;
    assert.equal(setCookieHeader('FWSRV', 'tok', base), 'FWSRV=tok; Path=/; HttpOnly; SameSite=Lax');
    assert.equal(
      setCookieHeader('FWSRV', 'tok', { ...base, path: '/app', domain: 'example.com', httpOnly: false, secure: true, sameSite: 'none', maxAge: 3600 }),
      'FWSRV=tok; Path=/app; Domain=example.com; Max-Age=3600; Secure; SameSite=None',
    );
    assert.equal(setCookieHeader('FWSRV', 'tok', { ...base, sameSite: 'strict' }), 'FWSRV=tok; Path=/; HttpOnly; SameSite=Strict');
  });

  it('reads a cookie among others, with spaces and quotes', () => {
    assert.equal(readCookie('a=1; FWSRV=tok; b=2', 'FWSRV'), 'tok');
    assert.equal(readCookie('FWSRV=tok', 'FWSRV'), 'tok');
    assert.equal(readCookie('  FWSRV = "tok" ;b=2', 'FWSRV'), 'tok');
    assert.equal(readCookie('XFWSRV=no; FWSRVX=no', 'FWSRV'), undefined);
    assert.equal(readCookie('a=1; FWSRV=first; FWSRV=second', 'FWSRV'), 'first');
    assert.equal(readCookie(undefined, 'FWSRV'), undefined);
    assert.equal(readCookie('noequals; FWSRV=tok', 'FWSRV'), 'tok');
  });

  it('removes a cookie and keeps the rest as they were', () => {
    assert.equal(removeCookie('a=1; FWSRV=tok; b=2', 'FWSRV'), 'a=1; b=2');
    assert.equal(removeCookie('FWSRV=tok; b=2', 'FWSRV'), 'b=2');
    assert.equal(removeCookie('a=1; FWSRV=tok', 'FWSRV'), 'a=1');
    assert.equal(removeCookie('FWSRV=tok', 'FWSRV'), '');
    assert.equal(removeCookie('a=1', 'FWSRV'), 'a=1');
  });

  it('rewrites or prefixes the value of one Set-Cookie, keeping its attributes; others are left alone', () => {
    assert.equal(rewriteSetCookie('SRV=placeholder; Path=/; HttpOnly', 'SRV', 'tok'), 'SRV=tok; Path=/; HttpOnly');
    assert.equal(rewriteSetCookie('OTHER=1; Path=/', 'SRV', 'tok'), undefined);
    assert.equal(prefixSetCookie('JSESSIONID=abc123; Path=/app; Secure', 'JSESSIONID', 'tok'), 'JSESSIONID=tok~abc123; Path=/app; Secure');
    assert.equal(prefixSetCookie('JSESSIONID=abc', 'SRV', 'tok'), undefined);
  });
});

describe('cookie modes round-trip through a jar', () => {
  it('insert: the first response sets the cookie; the next request names the member; the member never sees it', () => {
    const c = codec();
    const jar = new Jar();
    jar.take(['app=1']);
    let req = c.fromRequest(jar.header);
    assert.deepEqual(req, { value: undefined, forward: 'app=1' });
    const first = c.toResponse(['theme=dark; Path=/'], members[1], req.value);
    assert.equal(first!.length, 2);
    assert.match(first![1], /^FWSRV=[A-Za-z0-9_-]{16}; Path=\/; HttpOnly; SameSite=Lax$/);
    jar.take(first);
    req = c.fromRequest(jar.header);
    assert.equal(c.memberOf(req.value, members), members[1]);
    assert.equal(req.forward, 'app=1; theme=dark');
    // the client already holds the right cookie: nothing more is set
    assert.deepEqual(c.toResponse(undefined, members[1], req.value), undefined);
    // it is sent to another member (its own went down): the cookie is replaced
    const moved = c.toResponse(undefined, members[0], req.value);
    jar.take(moved);
    assert.equal(c.memberOf(c.fromRequest(jar.header).value, members), members[0]);
    // a request with only furiwake's cookie forwards no Cookie header at all
    assert.equal(c.fromRequest(`FWSRV=${c.valueFor(members[0])}`).forward, undefined);
  });

  it('rewrite: the member sets the cookie; its value becomes the token', () => {
    const c = codec({ cookie: 'SRV', mode: 'rewrite' });
    const jar = new Jar();
    const out = c.toResponse(['SRV=x; Path=/', 'sid=42; HttpOnly'], members[2], undefined);
    assert.deepEqual(out, [`SRV=${c.valueFor(members[2])}; Path=/`, 'sid=42; HttpOnly']);
    jar.take(out);
    const req = c.fromRequest(jar.header);
    assert.equal(c.memberOf(req.value, members), members[2]);
    assert.equal(req.forward, jar.header);
    // a response that sets no such cookie is passed on as it is
    assert.deepEqual(c.toResponse(['sid=43'], members[2], req.value), ['sid=43']);
  });

  it('prefix: the application\'s cookie carries the token in front; the member sees its own value', () => {
    const c = codec({ cookie: 'JSESSIONID', mode: 'prefix' });
    const jar = new Jar();
    const out = c.toResponse(['JSESSIONID=abc123; Path=/; HttpOnly'], members[0], undefined);
    assert.deepEqual(out, [`JSESSIONID=${c.valueFor(members[0])}~abc123; Path=/; HttpOnly`]);
    jar.take(out);
    jar.take(['lang=ja']);
    const req = c.fromRequest(jar.header);
    assert.equal(c.memberOf(req.value, members), members[0]);
    assert.equal(req.forward, 'JSESSIONID=abc123; lang=ja');
    // a value without the prefix (set before persistence was on) names no member and is left alone
    assert.deepEqual(c.fromRequest('JSESSIONID=plain'), { value: undefined, forward: 'JSESSIONID=plain' });
  });
});

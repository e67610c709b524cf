// The persistence section of a service: each method's keys and defaults, the methods a mode
// cannot run, and every mistake with its exact path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import { issuesOf, onlyIssue, withService } from './refused.ts';

function tcp(persistence: string): string {
  return withService(`{ listen: 127.0.0.1:8080, mode: tcp, pool: web, persistence: ${persistence} }`);
}
function udp(persistence: string): string {
  return withService(`{ listen: 127.0.0.1:8080, mode: udp, pool: web, persistence: ${persistence} }`);
}
function http(persistence: string): string {
  return withService(`{ listen: 127.0.0.1:8080, mode: http, pool: web, persistence: ${persistence} }`);
}

function persistenceOf(text: string, env: Record<string, string> = {}): PersistenceConfig | null {
  return parseConfig(text, 'test.yaml', env).services.www.persistence;
}

describe('persistence: defaults', () => {
  it('is off when absent or left empty', () => {
    assert.equal(persistenceOf(withService('{ listen: 127.0.0.1:8080, mode: tcp, pool: web }')), null);
    assert.equal(persistenceOf(tcp('')), null);
  });

  it('source-ip: whole addresses, 30m, 100000 entries', () => {
    assert.deepEqual(persistenceOf(tcp('{ method: source-ip }')), {
      method: 'source-ip', whenFull: 'repin', mask: 32, mask6: 128, timeout: 1_800_000, maxEntries: 100_000,
    });
    assert.deepEqual(persistenceOf(udp('{ method: source-ip, mask: 24, mask6: 64, timeout: 10m, max-entries: 5000 }')), {
      method: 'source-ip', whenFull: 'repin', mask: 24, mask6: 64, timeout: 600_000, maxEntries: 5000,
    });
    assert.equal(persistenceOf(tcp('{ method: source-ip, when-full: wait }'))?.whenFull, 'wait');
  });

  it('tls-session: 30m, 100000 entries', () => {
    assert.deepEqual(persistenceOf(tcp('{ method: tls-session }')), { method: 'tls-session', whenFull: 'repin', timeout: 1_800_000, maxEntries: 100_000 });
  });

  it('cookie: insert FWSRV, Path=/, HttpOnly, SameSite=Lax, a session cookie, a per-process secret', () => {
    assert.deepEqual(persistenceOf(http('{ method: cookie }')), {
      method: 'cookie', whenFull: 'repin', cookie: 'FWSRV', mode: 'insert', path: '/', domain: null, httpOnly: true, secure: false,
      sameSite: 'lax', maxAge: null, secret: null, exposeAddress: false,
    });
  });

  it('cookie: every key, the secret from the environment', () => {
    const text = http('{ method: cookie, cookie: JSESSIONID, cookie-mode: prefix, path: /app, domain: example.com, http-only: false, secure: true, same-site: none, max-age: 1h, secret: "${COOKIE_SECRET}", expose-address: true }');
    assert.deepEqual(persistenceOf(text, { COOKIE_SECRET: 'a-secret-of-some-length' }), {
      method: 'cookie', whenFull: 'repin', cookie: 'JSESSIONID', mode: 'prefix', path: '/app', domain: 'example.com', httpOnly: false, secure: true,
      sameSite: 'none', maxAge: 3600, secret: 'a-secret-of-some-length', exposeAddress: true,
    });
  });

  it('url: ;jsessionid= with the member id after a dot, or a query parameter, or a path segment', () => {
    assert.deepEqual(persistenceOf(http('{ method: url }')), { method: 'url', whenFull: 'repin', source: 'path-parameter', name: 'jsessionid', segment: null, separator: '.' });
    assert.deepEqual(persistenceOf(http('{ method: url, source: query, name: srv }')), { method: 'url', whenFull: 'repin', source: 'query', name: 'srv', segment: null, separator: '' });
    assert.deepEqual(persistenceOf(http('{ method: url, source: path-segment, segment: 2 }')), { method: 'url', whenFull: 'repin', source: 'path-segment', name: null, segment: 2, separator: '' });
    assert.deepEqual(persistenceOf(http('{ method: url, source: path-parameter, name: sid, separator: "-" }')), { method: 'url', whenFull: 'repin', source: 'path-parameter', name: 'sid', segment: null, separator: '-' });
  });

  it('hash: from a query parameter, a header (lower-cased), a cookie or a path segment', () => {
    assert.deepEqual(persistenceOf(http('{ method: hash, source: query, name: user }')), { method: 'hash', whenFull: 'repin', source: 'query', name: 'user', segment: null });
    assert.deepEqual(persistenceOf(http('{ method: hash, source: header, name: X-User-Id }')), { method: 'hash', whenFull: 'repin', source: 'header', name: 'x-user-id', segment: null });
    assert.deepEqual(persistenceOf(http('{ method: hash, source: path-segment }')), { method: 'hash', whenFull: 'repin', source: 'path-segment', name: null, segment: 1 });
  });
});

describe('persistence: methods a mode cannot run', () => {
  const cases: [string, string, string][] = [
    ['cookie on tcp', tcp('{ method: cookie }'), 'cookie persistence reads HTTP requests: it needs an http service; this service is tcp (use source-ip or tls-session)'],
    ['url on udp', udp('{ method: url }'), 'url persistence reads HTTP requests: it needs an http service; this service is udp (use source-ip)'],
    ['hash on tcp', tcp('{ method: hash, source: query, name: u }'), 'hash persistence reads HTTP requests: it needs an http service; this service is tcp (use source-ip or tls-session)'],
    ['tls-session on udp', udp('{ method: tls-session }'), 'tls-session persistence reads TLS passed through a tcp service; this service is udp (use source-ip)'],
    ['tls-session on http', http('{ method: tls-session }'), 'tls-session persistence reads TLS passed through a tcp service; this service is http (use cookie)'],
  ];
  for (const [name, text, message] of cases) {
    it(`refuses ${name}`, () => {
      assert.deepEqual(onlyIssue(text), ['services.www.persistence.method', message]);
    });
  }

  it('source-ip runs everywhere', () => {
    for (const text of [tcp('{ method: source-ip }'), udp('{ method: source-ip }'), http('{ method: source-ip }')]) {
      assert.equal(persistenceOf(text)?.method, 'source-ip');
    }
  });
});

describe('persistence: mistakes, with their paths', () => {
  const cases: [string, string, string, string][] = [
    ['not a map', tcp('source-ip'), 'services.www.persistence', 'expected persistence: a map with method (and its keys), got "source-ip"'],
    ['no method', tcp('{ mask: 24 }'), 'services.www.persistence.method', 'missing; expected source-ip, tls-session, cookie, url or hash'],
    ['an unknown method', tcp('{ method: sticky }'), 'services.www.persistence.method', 'expected source-ip, tls-session, cookie, url or hash, got "sticky"'],
    ['mask above 32', tcp('{ method: source-ip, mask: 33 }'), 'services.www.persistence.mask', 'expected a whole number from 0 to 32, got 33'],
    ['mask6 above 128', tcp('{ method: source-ip, mask6: 129 }'), 'services.www.persistence.mask6', 'expected a whole number from 0 to 128, got 129'],
    ['a zero timeout', tcp('{ method: source-ip, timeout: 0s }'), 'services.www.persistence.timeout', 'expected a duration above 0, got "0s"'],
    ['max-entries 0', tcp('{ method: tls-session, max-entries: 0 }'), 'services.www.persistence.max-entries', 'expected a whole number from 1 to 10000000, got 0'],
    ['a key of another method', tcp('{ method: tls-session, mask: 24 }'), 'services.www.persistence.mask', 'unknown key "mask"; expected one of: method, timeout, max-entries, when-full'],
    ['a misspelt key', tcp('{ method: source-ip, max-entires: 10 }'), 'services.www.persistence.max-entires', 'unknown key "max-entires"; did you mean "max-entries"?'],
    ['a bad cookie name', http('{ method: cookie, cookie: "my cookie" }'), 'services.www.persistence.cookie', 'expected a cookie name (letters, digits and !#$%&\'*+-.^_`|~, at most 64), got "my cookie"'],
    ['a bad cookie-mode', http('{ method: cookie, cookie-mode: append }'), 'services.www.persistence.cookie-mode', 'expected insert, rewrite or prefix, got "append"'],
    ['rewrite without the name', http('{ method: cookie, cookie-mode: rewrite }'), 'services.www.persistence.cookie', "cookie-mode rewrite works on the application's own cookie: name it (e.g. JSESSIONID)"],
    ['a path without /', http('{ method: cookie, path: app }'), 'services.www.persistence.path', 'expected a path starting with / (no spaces or ";"), got "app"'],
    ['SameSite=None without Secure', http('{ method: cookie, same-site: none }'), 'services.www.persistence.same-site', 'browsers drop a SameSite=None cookie that is not Secure: set secure: true, or same-site lax'],
    ['a bad same-site', http('{ method: cookie, same-site: yes }'), 'services.www.persistence.same-site', 'expected lax, strict or none, got "yes"'],
    ['max-age below a second', http('{ method: cookie, max-age: 500ms }'), 'services.www.persistence.max-age', 'expected none or a duration of 1s or more, got "500ms"'],
    ['a short secret', http('{ method: cookie, secret: short }'), 'services.www.persistence.secret', 'expected a secret of at least 16 characters, got "5 characters"'],
    ['a bad url source', http('{ method: url, source: fragment }'), 'services.www.persistence.source', 'expected path-parameter, query or path-segment, got "fragment"'],
    ['segment with query', http('{ method: url, source: query, segment: 2 }'), 'services.www.persistence.segment', 'segment is for source path-segment; this source is query'],
    ['name with path-segment', http('{ method: url, source: path-segment, name: x }'), 'services.www.persistence.name', 'source path-segment takes segment, not name'],
    ['a long separator', http('{ method: url, separator: "--" }'), 'services.www.persistence.separator', 'expected one character (not /, ?, #, ;, = or &) or "" for none, got "--"'],
    ['hash without source', http('{ method: hash, name: user }'), 'services.www.persistence.source', 'missing; expected query, header, cookie or path-segment'],
    ['hash from a header without its name', http('{ method: hash, source: header }'), 'services.www.persistence.name', 'missing; source header needs the name of the header'],
    ['segment 0', http('{ method: hash, source: path-segment, segment: 0 }'), 'services.www.persistence.segment', 'expected a whole number from 1 to 64, got 0'],
    ['a bad when-full', tcp('{ method: source-ip, when-full: queue }'), 'services.www.persistence.when-full', 'expected repin or wait, got "queue"'],
    ['waiting on udp', udp('{ method: source-ip, when-full: wait }'), 'services.www.persistence.when-full', 'a udp service has no queue to wait in: when-full wait is for tcp and http services'],
    ['hash waiting for its member', http('{ method: hash, source: query, name: u, when-full: wait }'), 'services.www.persistence.when-full', "hash spreads keys over the members with room (a full member's keys go to the next one in its table): when-full wait is for source-ip, tls-session, cookie and url"],
  ];
  for (const [name, text, path, message] of cases) {
    it(name, () => {
      assert.deepEqual(onlyIssue(text), [path, message]);
    });
  }

  it('reports every mistake of one persistence at once', () => {
    const issues = issuesOf(tcp('{ method: source-ip, mask: 40, mask6: -1, colour: red }'));
    assert.deepEqual(issues.map((i) => i.path).sort(), [
      'services.www.persistence.colour', 'services.www.persistence.mask', 'services.www.persistence.mask6',
    ]);
  });
});

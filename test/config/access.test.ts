// `access` on services and routes, and `routes` on a tcp service, as the file writes them: read
// into canonical networks, and each mistake reported with the path of its key. Then a route that
// an earlier, wider one hides (a wildcard host, a shorter prefix, more methods) is refused.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { emptyMatch } from '../../src/config/routes-schema.ts';
import { Hidden, hides } from '../../src/config/routes-shadow.ts';
import type { RouteMatchConfig } from '../../src/config/routes-types.ts';
import { Fuzzer, fuzz, fuzzCount } from '../helpers/fuzz.ts';
import { issuesOf, onlyIssue } from './refused.ts';

const POOLS = `pools:
  web: { members: [ { address: 10.0.0.1:80 } ] }
  api: { members: [ { address: 10.0.0.2:80 } ] }
`;

function file(service: string): string {
  return `services:\n  www: { listen: 127.0.0.1:80, pool: web, ${service} }\n${POOLS}`;
}

describe('access', () => {
  it('reads allow and deny on a service of each mode and on a route, as canonical networks', () => {
    for (const mode of ['tcp', 'udp', 'http']) {
      const config = parseConfig(file(`mode: ${mode}, access: { allow: [ 10.0.0.0/8, "2001:DB8::/32" ], deny: 10.9.0.1 }`), 'a.yaml', {});
      assert.deepEqual(config.services.www.access, { allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.9.0.1/32'] });
    }
    const config = parseConfig(file('mode: http, routes: [ { name: admin, match: { path-prefix: /admin/ }, pool: api, access: { allow: [ "::1" ] } } ]'), 'a.yaml', {});
    assert.deepEqual(config.services.www.http!.routes[0].access, { allow: ['::1/128'], deny: [] });
    assert.equal(parseConfig(file('mode: tcp'), 'a.yaml', {}).services.www.access, null);
  });

  it('refuses an empty access, a bad network, an unknown key, and access on a kernel-forwarded service', () => {
    assert.deepEqual(onlyIssue(file('mode: tcp, access: {}')), ['services.www.access', 'access needs networks in allow or deny (an empty access lets every client in: remove it)']);
    assert.deepEqual(onlyIssue(file('mode: tcp, access: { deny: [ 10.0.0.0/8, 10.0.0.0/33 ] }')), ['services.www.access.deny[1]', 'expected an address or a network ("10.0.0.0/8"), got "10.0.0.0/33"']);
    assert.equal(onlyIssue(file('mode: tcp, access: { alow: [ 10.0.0.0/8 ], deny: [ 10.9.0.0/16 ] }'))[0], 'services.www.access.alow');
    const [path, message] = onlyIssue(file('mode: nat, access: { deny: [ 10.0.0.0/8 ] }'));
    assert.equal(path, 'services.www.access');
    assert.match(message, /^access applies to tcp, udp and http services; the kernel forwards nat services/);
    assert.deepEqual(onlyIssue(file('mode: http, routes: [ { name: a, match: { path: /a }, deny: true, access: { deny: [ 10.0.0.0/8 ] } } ]')),
      ['services.www.routes[0].access', 'this route denies every request it matches; its access would change nothing']);
  });
});

describe('tcp routes', () => {
  it('reads sni, sni-regex and client-network routes with pool and deny', () => {
    const config = parseConfig(file(`mode: tcp, routes: [
      { name: a, match: { sni: [ A.test, "*.b.test" ] }, pool: api },
      { name: re, match: { sni-regex: "^api[0-9]+\\\\.test$" }, pool: api },
      { name: office, match: { client-network: 10.1.0.0/16 }, deny: true } ]`), 'a.yaml', {});
    const routes = config.services.www.tcp!.routes;
    assert.deepEqual(routes.map((r) => [r.name, r.match.sni, r.match.sniRegex, r.match.clientNetworks, r.action.kind]), [
      ['a', ['a.test', '*.b.test'], null, [], 'pool'],
      ['re', [], '^api[0-9]+\\.test$', [], 'pool'],
      ['office', [], null, ['10.1.0.0/16'], 'deny'],
    ]);
    assert.equal(config.services.www.http, null);
  });

  it('refuses what a tcp connection cannot show or do, each at its key', () => {
    const issues = issuesOf(file(`mode: tcp, routes: [
      { name: a, match: { host: a.test, path-prefix: /x }, pool: api },
      { name: b, match: { sni: b.test }, redirect: { location: "https://x/" } },
      { name: c, match: { sni: c.test }, pool: api, strip-prefix: /c } ]`));
    assert.deepEqual(issues.map((i) => i.path), ['services.www.routes[0].match.host', 'services.www.routes[0].match.path-prefix', 'services.www.routes[1].redirect', 'services.www.routes[2].strip-prefix']);
    assert.match(issues[0].message, /^a tcp service routes by sni and client-network; host is read from an HTTP request/);
    assert.deepEqual(onlyIssue(file('mode: udp, routes: [ { name: a, match: { client-network: 10.0.0.0/8 }, pool: api } ]')), ['services.www.routes', 'routes apply to http and tcp services; this service is udp']);
    assert.deepEqual(onlyIssue(file('mode: tcp, routes: [ { name: a, match: { sni: a.test }, pool: apii } ]')), ['services.www.routes[0].pool', 'no pool named "apii"; did you mean "api"?']);
    assert.equal(onlyIssue(file('mode: tcp, routes: [ { name: a, match: { sni-regex: "(" }, pool: api } ]'))[0], 'services.www.routes[0].match.sni-regex');
    assert.deepEqual(onlyIssue(file('mode: http, routes: [ { name: a, match: { sni-regex: "^a" }, pool: api } ]')),
      ['services.www.routes[0].match.sni-regex', 'sni-regex reads the name a client sends in its TLS handshake; this service has no tls section']);
  });
});

describe('routes an earlier one hides', () => {
  const hidden = (routes: string, mode = 'http'): [string, string] => onlyIssue(file(`mode: ${mode}, routes: ${routes}`));

  it('refuses a route under a wider one: a wildcard host, a shorter prefix, more methods, fewer conditions', () => {
    assert.deepEqual(hidden('[ { name: all-api, match: { host: "*.example.com", path-prefix: /api }, pool: api }, { name: v1, match: { host: www.example.com, path: /api/v1, method: GET }, pool: web } ]'),
      ['services.www.routes[1].match', 'this route never matches: routes[0] (all-api) takes every request it would (its conditions are as wide or wider) and comes first']);
    assert.equal(hidden('[ { name: a, match: { path: [ /a, /b ], method: [ GET, POST ] }, pool: api }, { name: b, match: { path: /b, method: GET }, deny: true } ]')[0], 'services.www.routes[1].match');
    assert.equal(hidden('[ { name: a, match: { path-prefix: / }, pool: api }, { name: b, match: { path: /x, header: { x-a: "1" } }, pool: web } ]')[0], 'services.www.routes[1].match');
    assert.equal(hidden('[ { name: a, match: { sni: "*.test" }, pool: api }, { name: b, match: { sni: [ a.test, "*.b.test" ] }, pool: web } ]', 'tcp')[0], 'services.www.routes[1].match');
  });

  it('lets a route through when some request reaches it', () => {
    const ok = (routes: string, mode = 'http'): void => {
      parseConfig(file(`mode: ${mode}, routes: ${routes}`), 'a.yaml', {});
    };
    ok('[ { name: a, match: { host: www.example.com, path-prefix: /api }, pool: api }, { name: b, match: { host: "*.example.com", path-prefix: /api }, pool: web } ]');
    ok('[ { name: a, match: { path: /a, method: GET }, pool: api }, { name: b, match: { path: /a }, pool: web } ]');
    ok('[ { name: a, match: { path-prefix: /api/ }, pool: api }, { name: b, match: { path: /api }, pool: web } ]');
    ok('[ { name: a, match: { path: /x, header: { x-a: "1" } }, pool: api }, { name: b, match: { path: /x }, pool: web } ]');
    ok('[ { name: a, match: { sni: a.test, client-network: 10.0.0.0/8 }, pool: api }, { name: b, match: { sni: a.test }, pool: web } ]', 'tcp');
    ok('[ { name: a, match: { sni: "*.test" }, pool: api }, { name: b, match: { sni: test }, pool: web } ]', 'tcp');
  });
});

describe('the hidden-route index', () => {
  it('finds the same first hiding route as comparing every earlier route, for random lists', () => {
    const HOSTS = ['a.test', 'b.a.test', '*.a.test', '*.test', 'c.test', '*.b.a.test'];
    const PATHS = ['/', '/a', '/a/', '/a/b', '/b', '/ab'];
    const some = (f: Fuzzer, items: string[]): string[] => (f.random() < 0.5 ? [] : items.filter(() => f.random() < 0.3));
    const random = (f: Fuzzer): RouteMatchConfig => {
      const exact = f.random() < 0.5;
      return { ...emptyMatch(), hosts: some(f, HOSTS), paths: exact ? some(f, PATHS) : [], pathPrefixes: exact ? [] : some(f, PATHS), methods: some(f, ['GET', 'POST']) };
    };
    let found = 0;
    fuzz(0x41dd, fuzzCount(3_000), (f) => Buffer.from(String(f.int(2 ** 31))), (seed) => {
      const f = new Fuzzer(Number(seed.toString()));
      const matches = Array.from({ length: 1 + f.int(12) }, () => random(f));
      const index = new Hidden();
      matches.forEach((m, i) => {
        const expected = matches.slice(0, i).findIndex((e) => hides(e, m));
        assert.equal(index.next(m), expected, JSON.stringify(matches.slice(0, i + 1)));
        if (expected !== -1) found++;
      });
    });
    assert.ok(found > 100);
  });
});

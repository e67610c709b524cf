// The routes of an http service as the file writes them: every condition and action read into
// the normalized form, and each mistake reported with the path of its key.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { issuesOf, onlyIssue } from './refused.ts';

const POOLS = `pools:
  web: { members: [ { address: 10.0.0.1:80 } ] }
  api: { members: [ { address: 10.0.0.2:80 } ] }
`;

/** A file with one http service `www` whose routes are `routes` (YAML flow or block, indented by 4). */
function file(routes: string, service = 'listen: 127.0.0.1:80, mode: http, pool: web'): string {
  return `services:\n  www: { ${service}, routes: ${routes} }\n${POOLS}`;
}

function routesOf(routes: string) {
  return parseConfig(file(routes), 'routes.yaml', {}).services.www.http!.routes;
}

describe('routes', () => {
  it('reads every condition and action', () => {
    const routes = routesOf(`[
      { name: api, match: { host: [ API.example.com, "*.api.example.com" ], path-prefix: /v1/, method: [ get, POST ],
          header: { X-Env: canary, x-debug: true, x-ver: { regex: "^2" } }, query: { lang: en, debug: true },
          client-network: [ 10.0.0.0/8, "2001:db8::1" ] }, pool: api, strip-prefix: /v1 },
      { name: old, match: { path: [ /old, /older ], host-regex: "^www[0-9]*\\\\.example\\\\.com$" }, redirect: { code: 308, location: "https://{host}/new{path}{query}" } },
      { name: hello, match: { path-regex: "^/hello/[a-z]+$" }, respond: { status: 200, body: hi, content-type: text/html } },
      { name: blocked, match: { path-prefix: /admin }, deny: true },
      { name: moved, match: { path-prefix: /v0/ }, pool: api, replace-prefix: { from: /v0/, to: /v1/ } },
    ]`);
    assert.deepEqual(routes[0], {
      name: 'api',
      match: {
        hosts: ['api.example.com', '*.api.example.com'], hostRegex: null, paths: [], pathPrefixes: ['/v1/'], pathRegex: null, methods: ['GET', 'POST'],
        headers: [{ name: 'x-env', kind: 'equal', value: 'canary' }, { name: 'x-debug', kind: 'present', value: '' }, { name: 'x-ver', kind: 'regex', value: '^2' }],
        query: [{ name: 'lang', value: 'en' }, { name: 'debug', value: null }],
        clientNetworks: ['10.0.0.0/8', '2001:db8::1/128'], sni: [], sniRegex: null,
      },
      action: { kind: 'pool', pool: 'api', rewrite: { from: '/v1', to: '' } },
      access: null,
    });
    assert.deepEqual(routes[1].match.paths, ['/old', '/older']);
    assert.equal(routes[1].match.hostRegex, '^www[0-9]*\\.example\\.com$');
    assert.deepEqual(routes[1].action, {
      kind: 'redirect', code: 308, location: 'https://{host}/new{path}{query}',
      parts: ['https://', { field: 'host' }, '/new', { field: 'path' }, { field: 'query' }],
    });
    assert.deepEqual(routes[2].action, { kind: 'respond', status: 200, body: 'hi', contentType: 'text/html' });
    assert.deepEqual(routes[3].action, { kind: 'deny' });
    assert.deepEqual(routes[4].action, { kind: 'pool', pool: 'api', rewrite: { from: '/v0/', to: '/v1/' } });
  });

  it('fills the defaults: a redirect is a 302, respond a 200 of plain text, a route without match takes every request', () => {
    const routes = routesOf('[ { name: r, match: { path: /a }, redirect: { location: "https://x/" } }, { name: s, match: { path: /b }, respond: {} }, { name: all, pool: api } ]');
    assert.equal(routes[0].action.kind === 'redirect' && routes[0].action.code, 302);
    assert.deepEqual(routes[1].action, { kind: 'respond', status: 200, body: '', contentType: 'text/plain; charset=utf-8' });
    assert.deepEqual(routes[2].match, { hosts: [], hostRegex: null, paths: [], pathPrefixes: [], pathRegex: null, methods: [], headers: [], query: [], clientNetworks: [], sni: [], sniRegex: null });
    assert.deepEqual(parseConfig(file('[]'), 'x.yaml', {}).services.www.http!.routes, []);
  });

  it('refuses a bad regex, naming the key', () => {
    const [path, message] = onlyIssue(file('[ { name: a, match: { path-regex: "([a-z" }, pool: api } ]'));
    assert.equal(path, 'services.www.routes[0].match.path-regex');
    assert.match(message, /"\(\[a-z" is not a valid regular expression/);
    assert.equal(onlyIssue(file('[ { name: a, match: { host-regex: "*x" }, pool: api } ]'))[0], 'services.www.routes[0].match.host-regex');
    assert.equal(onlyIssue(file('[ { name: a, match: { header: { x-a: { regex: "(" } } }, pool: api } ]'))[0], 'services.www.routes[0].match.header');
  });

  it('refuses a pool that does not exist, with the closest name', () => {
    assert.deepEqual(onlyIssue(file('[ { name: a, match: { path: /a }, pool: apii } ]')), ['services.www.routes[0].pool', 'no pool named "apii"; did you mean "api"?']);
  });

  it('refuses a duplicate name, two actions, no action, and a rewrite without a pool', () => {
    assert.deepEqual(onlyIssue(file('[ { name: a, match: { path: /a }, pool: api }, { name: a, match: { path: /b }, pool: api } ]')),
      ['services.www.routes[1].name', 'duplicate route name "a", also routes[0]']);
    assert.deepEqual(onlyIssue(file('[ { name: a, match: { path: /a }, pool: api, deny: true } ]')),
      ['services.www.routes[0].deny', 'a route has exactly one action; this one has pool and deny']);
    assert.deepEqual(onlyIssue(file('[ { name: a, match: { path: /a } } ]')),
      ['services.www.routes[0]', 'a route needs one action: pool, redirect, respond or deny']);
    assert.deepEqual(onlyIssue(file('[ { name: a, match: { path: /a }, deny: true, strip-prefix: /a } ]')),
      ['services.www.routes[0].strip-prefix', 'strip-prefix rewrites the path on the way to a pool; this route has no pool']);
  });

  it('refuses a route an earlier one hides: the same conditions, or after one with none', () => {
    assert.deepEqual(onlyIssue(file('[ { name: a, match: { host: x.example.com, path: /a }, pool: api }, { name: b, match: { path: /a, host: X.example.com }, deny: true } ]')),
      ['services.www.routes[1].match', 'this route never matches: routes[0] (a) has the same conditions and comes first']);
    assert.deepEqual(onlyIssue(file('[ { name: all, pool: api }, { name: b, match: { path: /a }, deny: true } ]')),
      ['services.www.routes[1].match', 'this route never matches: routes[0] (all) has no conditions (it takes every request) and comes first']);
  });

  it('refuses malformed conditions and actions, each at its key', () => {
    const cases: [string, string, RegExp][] = [
      ['{ host: "api.example.com:8080" }', 'match.host[0]', /the port is not part of the host/],
      ['{ path: api }', 'match.path[0]', /a path starting with "\/"/],
      ['{ path: /a, path-prefix: /b }', 'match.path-prefix', /path \(exact\) or path-prefix, not both/],
      ['{ method: "GE T" }', 'match.method[0]', /an HTTP method/],
      ['{ client-network: 10.0.0.0/33 }', 'match.client-network[0]', /a network/],
      ['{ header: { "bad name": x } }', 'match.header', /is not a header name/],
      ['{ query: { a: "x&y" } }', 'match.query', /visible ASCII, no "&"/],
      ['{ colour: red }', 'match.colour', /unknown key "colour"/],
    ];
    for (const [match, key, message] of cases) {
      const [path, got] = onlyIssue(file(`[ { name: a, match: ${match}, pool: api } ]`));
      assert.equal(path, `services.www.routes[0].${key}`, match);
      assert.match(got, message, match);
    }
    assert.deepEqual(onlyIssue(file('[ { name: a, match: { path: /a }, redirect: { location: "https://{hots}/" } } ]')),
      ['services.www.routes[0].redirect.location', 'unknown field {hots} in the location "https://{hots}/"; the fields are {scheme}, {host}, {path}, {query}']);
    assert.match(onlyIssue(file('[ { name: a, match: { path: /a }, redirect: { code: 300, location: "/" } } ]'))[1], /301, 302, 303, 307 or 308/);
    assert.deepEqual(onlyIssue(file('[ { name: a, match: { path: /a }, respond: { status: 204, body: x } } ]')),
      ['services.www.routes[0].respond.body', 'a 204 response has no body']);
  });

  it("refuses on-member-down: close on a pool an http route reaches, as on the service's own", () => {
    const text = file('[ { name: a, match: { path: /a }, pool: api } ]').replace('api: { members: [ { address: 10.0.0.2:80 } ] }', 'api: { members: [ { address: 10.0.0.2:80 } ], on-member-down: close }');
    const [path, message] = onlyIssue(text);
    assert.equal(path, 'pools.api.on-member-down');
    assert.match(message, /close is not a choice for http.*\(service www is http\)$/);
  });

  it('refuses sni on plain http, and routes on a tcp service', () => {
    assert.deepEqual(onlyIssue(file('[ { name: a, match: { sni: a.example.com }, pool: api } ]')),
      ['services.www.routes[0].match.sni', 'sni is the name a client sends in its TLS handshake; this service has no tls section']);
    const issues = issuesOf(file('[ { name: a, match: { path: /a }, pool: api } ]', 'listen: 127.0.0.1:80, mode: udp, pool: web'));
    assert.deepEqual(issues.map((i) => [i.path, i.message]), [['services.www.routes', 'routes apply to http and tcp services; this service is udp']]);
  });
});

// The header rules, request ids and error pages of an http service (and the headers and
// persistence of a route) as the file writes them: read into the normalized form, and each
// mistake reported with the path of its key.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { issuesOf, onlyIssue } from './refused.ts';

const POOLS = `pools:
  web: { members: [ { address: 10.0.0.1:80 } ] }
  api: { members: [ { address: 10.0.0.2:80 } ] }
`;

function file(keys: string, mode = 'http'): string {
  return `services:\n  www: { listen: 127.0.0.1:80, mode: ${mode}, pool: web, ${keys} }\n${POOLS}`;
}

function httpOf(keys: string) {
  return parseConfig(file(keys), 'h.yaml', {}).services.www.http!;
}

describe('header rules, request ids and error pages', () => {
  it('reads rules into names and value parts', () => {
    const http = httpOf(`headers: { request: { set: { X-Client: "{client} {{x}}" }, add: { Via: furiwake }, delete: [ X-Debug ] }, response: { delete: Server } }`);
    assert.deepEqual(http.headers, {
      request: {
        set: [{ name: 'X-Client', lower: 'x-client', value: '{client} {{x}}', parts: [{ field: 'client' }, ' {x}'] }],
        add: [{ name: 'Via', lower: 'via', value: 'furiwake', parts: ['furiwake'] }],
        delete: ['x-debug'],
      },
      response: { set: [], add: [], delete: ['server'] },
    });
    assert.equal(http.requestId, null);
    assert.deepEqual(http.errorPages, {});
  });

  it('reads request-id as true or a map, with its defaults', () => {
    assert.deepEqual(httpOf('request-id: true').requestId, { header: 'X-Request-Id', lower: 'x-request-id', keepIncoming: true, echo: false });
    assert.deepEqual(httpOf('request-id: { header: X-Trace, echo: true, keep-incoming: false }').requestId, { header: 'X-Trace', lower: 'x-trace', keepIncoming: false, echo: true });
    assert.equal(httpOf('request-id: false').requestId, null);
  });

  it('reads error pages by status, with the content type of a file by its extension', () => {
    assert.deepEqual(httpOf('error-pages: { 503: { file: pages/503.html }, default: { body: oops } }').errorPages, {
      503: { contentType: 'text/html; charset=utf-8', file: 'pages/503.html', body: '' },
      default: { contentType: 'text/plain; charset=utf-8', file: null, body: 'oops' },
    });
  });

  it('reads a route\'s headers and persistence', () => {
    const route = httpOf(`routes: [ { name: shop, match: { path-prefix: /shop/ }, pool: api, headers: { response: { set: { X-Route: "{route}" } } },
      persistence: { method: cookie, cookie: SHOP } } ]`).routes[0];
    assert.equal(route.headers?.response?.set[0].value, '{route}');
    assert.equal(route.persistence?.method, 'cookie');
  });

  it('refuses what a rule cannot do, naming the path', () => {
    const cases: [string, string, RegExp][] = [
      ['headers: { request: { set: { "Bad Name": x } } }', 'services.www.headers.request.set', /"Bad Name" is not a header name/],
      ['headers: { request: { set: { Content-Length: "5" } } }', 'services.www.headers.request.set', /Content-Length frames the message or belongs to one connection/],
      ['headers: { response: { delete: [ Transfer-Encoding ] } }', 'services.www.headers.response.delete', /furiwake writes it itself/],
      ['headers: { request: { delete: [ ":authority" ] } }', 'services.www.headers.request.delete', /pseudo-header/],
      ['headers: { request: { delete: [ Host ] } }', 'services.www.headers.request.delete', /needs its Host/],
      ['headers: { request: { set: { X-A: "{nope}" } } }', 'services.www.headers.request.set', /X-A: unknown part \{nope\}.*\{client\}, \{host\}/],
      ['headers: { request: { set: { X-A: "a}" } } }', 'services.www.headers.request.set', /a "}" without its "\{"/],
      ['headers: { request: { set: { X-A: "caf\u00e9" } } }', 'services.www.headers.request.set', /only ASCII/],
      ['headers: { request: { set: { X-A: "a\\nb" } } }', 'services.www.headers.request.set', /holds a line break/],
      ['headers: { request: { set: { X-A: "a\\0b" } } }', 'services.www.headers.request.set', /holds a NUL/],
      ['headers: { request: { set: { X-A: a }, delete: [ x-a ] } }', 'services.www.headers.request.delete', /X-A is both set and deleted/],
      ['headers: { request: { replace: { X-A: a } } }', 'services.www.headers.request.replace', /unknown key/],
      ['request-id: { header: Host }', 'services.www.request-id.header', /needs its Host/],
      ['request-id: { echo: maybe }', 'services.www.request-id.echo', /true or false/],
      ['error-pages: { 302: { body: x } }', 'services.www.error-pages.302', /400 to 599, or default/],
      ['error-pages: { 503: { body: x, file: a.html } }', 'services.www.error-pages.503', /a file or a body \(one of them\)/],
      ['error-pages: { 503: { file: page.bin } }', 'services.www.error-pages.503.content-type', /say the content type of page.bin/],
      ['error-pages: { 503: { body: x, content-type: "a\\nb" } }', 'services.www.error-pages.503.content-type', /content type/],
      ['routes: [ { name: d, match: { path: /d }, deny: true, headers: { request: { add: { X-A: a } } } } ]', 'services.www.routes[0].headers', /this route has no pool/],
      ['routes: [ { name: r, match: { path: /r }, pool: api, persistence: { method: source-ip } } ]', 'services.www.routes[0].persistence.method', /use cookie, url or hash on a route/],
      ['routes: [ { name: r, match: { path: /r }, pool: api, persistence: { method: tls-session } } ]', 'services.www.routes[0].persistence.method', /tls-session/],
    ];
    for (const [keys, path, message] of cases) {
      const [p, m] = onlyIssue(file(keys));
      assert.equal(p, path, keys);
      assert.match(m, message, keys);
    }
  });

  it('tells a tcp service that these keys are for http services', () => {
    const issues = issuesOf(file('headers: { request: { add: { X-A: a } } }, request-id: true, error-pages: { default: { body: x } }', 'tcp'));
    assert.deepEqual(issues.map((i) => i.path), ['services.www.headers', 'services.www.request-id', 'services.www.error-pages']);
  });

  it('with ha, a route\'s cookie persistence needs a secret', () => {
    const text = `ha: { interface: lo, router-id: 5, vips: [ 127.0.0.1 ] }\n${file('routes: [ { name: r, match: { path: /r }, pool: api, persistence: { method: cookie } } ]')}`;
    const issues = issuesOf(text);
    assert.ok(issues.some((i) => i.path === 'services.www.routes[0].persistence.secret'), issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  });
});

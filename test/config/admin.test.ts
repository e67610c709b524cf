// The admin section: defaults, the token rules (a listener other hosts can reach needs one),
// and a listener that would collide with a service.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopback } from '../../src/config/admin-schema.ts';
import { parseConfig } from '../../src/config/load.ts';
import { issuesOf, onlyIssue } from './refused.ts';

const TOKEN = 'a-token-of-twenty-chars';
const file = (admin: string, listen = '127.0.0.1:8080') =>
  `${admin}\nservices:\n  www: { listen: ${listen}, mode: tcp, pool: web }\npools:\n  web: { members: [ { address: 10.0.0.1:80 } ] }\n`;

describe('admin config', () => {
  it('is absent without the section, and all defaults with an empty one', () => {
    assert.equal(parseConfig(file(''), 'a.yaml', {}).admin, undefined);
    const admin = parseConfig(file('admin:'), 'a.yaml', {}).admin;
    assert.deepEqual(admin, { listen: { host: '127.0.0.1', ip: '127.0.0.1', port: 9090 }, token: null, readTokenRequired: false, maxConnections: 256, maxConnectionsPerClient: 16 });
  });

  it('takes a listen address, a token from the environment and read-token-required', () => {
    const admin = parseConfig(file('admin: { listen: "0.0.0.0:9443", token: "${T}", read-token-required: true }'), 'a.yaml', { T: TOKEN }).admin;
    assert.deepEqual(admin, { listen: { host: '0.0.0.0', ip: '0.0.0.0', port: 9443 }, token: TOKEN, readTokenRequired: true, maxConnections: 256, maxConnectionsPerClient: 16 });
  });

  it('makes reads need the token when other hosts can reach the listener, unless the file says read-token-required: false', () => {
    const admin = (text: string) => parseConfig(file(text), 'a.yaml', { T: TOKEN }).admin!;
    assert.equal(admin('admin: { listen: "0.0.0.0:9443", token: "${T}" }').readTokenRequired, true);
    assert.equal(admin('admin: { listen: "[::]:9443", token: "${T}" }').readTokenRequired, true);
    assert.equal(admin('admin: { listen: "127.0.0.1:9443", token: "${T}" }').readTokenRequired, false);
    assert.equal(admin('admin: { listen: "0.0.0.0:9443", token: "${T}", read-token-required: false }').readTokenRequired, false);
  });

  it('takes max-connections and max-connections-per-client, the second no larger than the first', () => {
    const admin = parseConfig(file('admin: { max-connections: 100, max-connections-per-client: 4 }'), 'a.yaml', {}).admin!;
    assert.deepEqual([admin.maxConnections, admin.maxConnectionsPerClient], [100, 4]);
    // left out, the per-client cap is its default or max-connections, whichever is smaller
    assert.equal(parseConfig(file('admin: { max-connections: 10 }'), 'a.yaml', {}).admin!.maxConnectionsPerClient, 10);
    assert.equal(parseConfig(file('admin: {}'), 'a.yaml', {}).admin!.maxConnectionsPerClient, 16);
    assert.deepEqual(onlyIssue(file('admin: { max-connections: 10, max-connections-per-client: 16 }')), ['admin.max-connections-per-client', 'expected at most max-connections (10), got 16']);
    assert.equal(onlyIssue(file('admin: { max-connections-per-client: 0 }'))[0], 'admin.max-connections-per-client');
  });

  it('refuses a listener other hosts can reach without a token, at admin.token', () => {
    const [path, message] = onlyIssue(file('admin: { listen: 0.0.0.0:9090 }'));
    assert.equal(path, 'admin.token');
    assert.match(message, /missing; the admin listener 0\.0\.0\.0:9090 is reachable from other hosts, so a token is needed/);
    assert.equal(onlyIssue(file('admin: { listen: "[::]:9090" }'))[0], 'admin.token');
    assert.equal(onlyIssue(file('admin: { listen: admin.example.com:9090 }'))[0], 'admin.token');
  });

  it('refuses read-token-required without a token', () => {
    assert.deepEqual(onlyIssue(file('admin: { read-token-required: true }')), ['admin.token', 'missing; read-token-required needs a token']);
  });

  it('refuses a short token, and one with spaces', () => {
    assert.deepEqual(onlyIssue(file('admin: { token: short }')), ['admin.token', 'expected a token of at least 16 characters, got one of 5']);
    assert.equal(onlyIssue(file('admin: { token: "a token with some spaces" }'))[0], 'admin.token');
  });

  it('refuses unknown keys with a suggestion', () => {
    const [path, message] = onlyIssue(file('admin: { listen: 127.0.0.1:9090, tokn: x }'));
    assert.equal(path, 'admin.tokn');
    assert.match(message, /did you mean "token"/);
  });

  it('refuses a listener that collides with a tcp service, even when the service is wrong elsewhere', () => {
    assert.deepEqual(onlyIssue(file('admin: { listen: 127.0.0.1:8080 }')), ['admin.listen', '127.0.0.1:8080 overlaps the listener of services.www (127.0.0.1:8080)']);
    assert.equal(onlyIssue(file('admin: { listen: 127.0.0.1:8080 }', '0.0.0.0:8080'))[0], 'admin.listen');
    const issues = issuesOf(`admin: { listen: 127.0.0.1:8080 }\nservices:\n  www: { listen: 127.0.0.1:8080, mode: tcp, pool: web, retries: many }\npools:\n  web: { members: [ { address: 10.0.0.1:80 } ] }\n`);
    assert.deepEqual(issues.map((i) => i.path), ['admin.listen', 'services.www.retries']);
  });

  it('lets a udp service share the port', () => {
    const config = parseConfig(`admin: { listen: 127.0.0.1:5353 }\nservices:\n  dns: { listen: 127.0.0.1:5353, mode: udp, pool: web }\npools:\n  web: { members: [ { address: 10.0.0.1:53 } ] }\n`, 'a.yaml', {});
    assert.equal(config.admin?.listen.port, 5353);
  });

  it('knows loopback addresses by their spelling', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '0:0::1', 'localhost', 'LOCALHOST']) assert.equal(isLoopback({ host, port: 1 }), true, host);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'lb.example.com', '128.0.0.1']) assert.equal(isLoopback({ host, port: 1 }), false, host);
  });
});

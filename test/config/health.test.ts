// The health section: monitors of each type normalize with their defaults; mistakes are
// reported at their exact paths.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { onlyIssue, withPool } from './refused.ts';

const pool = (health: string, member = '{ address: 10.0.0.1:80 }') => withPool(`{ members: [ ${member} ], health: ${health} }`);

describe('health config', () => {
  it('fills monitor defaults and the rule', () => {
    const config = parseConfig(pool('{ require: at-least 1, monitors: [ { type: http, path: /health, expect-body: OK }, { type: tcp, send: "PING\\r\\n", expect: "+PONG", interval: 5s } ] }'), 'h.yaml', {});
    const health = config.pools.web.health;
    assert.deepEqual(health.require, { kind: 'at-least', n: 1 });
    const [http, tcp] = health.monitors;
    assert.equal(http.type, 'http');
    assert.equal(http.interval, 2_000);
    assert.equal(http.fastInterval, 500);
    assert.equal(http.timeout, 1_000);
    assert.deepEqual(http.type === 'http' && http.expectStatus, [[200, 399]]);
    assert.deepEqual(http.type === 'http' && http.expectBody, { kind: 'string', value: 'OK' });
    assert.equal(tcp.type === 'tcp' && tcp.send?.toString(), 'PING\r\n');
    assert.equal(tcp.fastInterval, 1_250);
    assert.equal(health.initialState, 'checking');
    assert.equal(config.pools.web.slowStart, 0);
  });

  it('reports a key of another monitor type as an unknown key, with its path', () => {
    const [path, message] = onlyIssue(pool('{ monitors: [ { type: http, expect-rcode: NOERROR } ] }'));
    assert.equal(path, 'pools.web.health.monitors[0].expect-rcode');
    assert.match(message, /unknown key "expect-rcode"/);
  });

  it('refuses an unknown monitor type', () => {
    const [path, message] = onlyIssue(pool('{ monitors: [ { type: smtp } ] }'));
    assert.equal(path, 'pools.web.health.monitors[0].type');
    assert.match(message, /a monitor type: icmp, tcp, udp, http, https, grpc, sip, radius, dns, script/);
  });

  it('fills the grpc monitor defaults (cleartext, the whole server) and refuses TLS keys without tls: true', () => {
    const config = parseConfig(pool('{ monitors: [ { type: grpc }, { type: grpc, service: shop.Cart, tls: true, sni: api.test, authority: api.test } ] }'), 'h.yaml', {});
    const [plain, secure] = config.pools.web.health.monitors;
    assert.deepEqual(plain.type === 'grpc' && { service: plain.service, authority: plain.authority, tls: plain.tls }, { service: '', authority: null, tls: null });
    assert.deepEqual(secure.type === 'grpc' && { service: secure.service, authority: secure.authority, tls: secure.tls },
      { service: 'shop.Cart', authority: 'api.test', tls: { sni: 'api.test', verify: false, ca: null, cert: null, key: null } });
    const [path, message] = onlyIssue(pool('{ monitors: [ { type: grpc, verify: true } ] }'));
    assert.equal(path, 'pools.web.health.monitors[0].verify');
    assert.equal(message, 'verify applies to TLS only: add tls: true, or remove verify');
    assert.equal(onlyIssue(pool('{ monitors: [ { type: grpc, tls: true, cert: c.pem } ] }'))[0], 'pools.web.health.monitors[0].key');
  });

  it('refuses a udp pattern with expect: any', () => {
    const [path] = onlyIssue(pool('{ monitors: [ { type: udp, expect: any, expect-hex: "00" } ] }'));
    assert.equal(path, 'pools.web.health.monitors[0].expect-hex');
  });

  it('refuses a rule that can never pass, for the pool and for a member', () => {
    assert.equal(onlyIssue(pool('{ require: at-least 2, monitors: [ { type: tcp } ] }'))[0], 'pools.web.health.require');
    const [path, message] = onlyIssue(pool('{ monitors: [ { type: tcp }, { type: icmp } ] }', '{ address: 10.0.0.1:80, health: { require: at-least 3 } }'));
    assert.equal(path, 'pools.web.members[0].health.require');
    assert.equal(message, 'at-least 3 can never pass with 2 monitors');
  });

  it('requires the radius secret, username and password', () => {
    const [path] = onlyIssue(pool('{ monitors: [ { type: radius, username: u, password: p } ] }'));
    assert.equal(path, 'pools.web.health.monitors[0].secret');
  });

  it('refuses what Node.js would refuse to send at every check: a space in an http path, a bad header, a NUL in a script argument', () => {
    const [path, message] = onlyIssue(pool('{ monitors: [ { type: http, path: "/health check" } ] }'));
    assert.equal(path, 'pools.web.health.monitors[0].path');
    assert.match(message, /visible ASCII without spaces/);
    assert.equal(onlyIssue(pool('{ monitors: [ { type: http, headers: { "x bad": y } } ] }'))[0], 'pools.web.health.monitors[0].headers["x bad"]');
    assert.equal(onlyIssue(pool('{ monitors: [ { type: https, headers: { x-token: "a\\r\\nInjected: 1" } } ] }'))[0], 'pools.web.health.monitors[0].headers.x-token');
    assert.equal(onlyIssue(pool('{ monitors: [ { type: script, command: /bin/echo, args: [ok, "a\\0b"] } ] }'))[0], 'pools.web.health.monitors[0].args[1]');
  });
});

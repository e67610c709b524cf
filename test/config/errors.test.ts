// Each kind of mistake is reported with the exact path of the key and a message that says
// what was expected and what was found.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.ts';
import { issuesOf, onlyIssue, withPool, withService } from './refused.ts';

describe('unknown keys', () => {
  it('names the key and the keys that are allowed there', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, colour: blue }')), [
      'services.www.colour',
      'unknown key "colour"; expected one of: listen, mode, pool, timeouts, retries, proxy-protocol, accept-proxy, max-flows, balance-per, max-connections-per-client, rate-limit, persistence, protocol, interface, source-nat, flush-on-down, tls, redirect-https, forwarded, limits, member-tls, member-keep-alive, access-log, http2, trusted-proxies, headers, request-id, error-pages, access, routes',
    ]);
  });

  it('suggests the key that was probably meant', () => {
    assert.deepEqual(onlyIssue(withPool('{ members: [ { address: 10.0.0.1:80, max-connection: 5 } ] }')), [
      'pools.web.members[0].max-connection',
      'unknown key "max-connection"; did you mean "max-connections"?',
    ]);
    assert.deepEqual(onlyIssue(withPool('{ members: [ { address: 10.0.0.1:80, maxConnections: 5 } ] }')), [
      'pools.web.members[0].maxConnections',
      'unknown key "maxConnections"; did you mean "max-connections"?',
    ]);
  });

  it('refuses top-level keys of later versions too', () => {
    assert.deepEqual(onlyIssue(`cluster: { peers: [ 10.0.0.2 ] }\n${withPool('{ members: [ { address: 10.0.0.1:80 } ] }')}`), [
      'cluster',
      'unknown key "cluster"; expected one of: global, logs, admin, ha, services, pools',
    ]);
  });
});

describe('wrong types and values', () => {
  const cases: [string, string, string, string][] = [
    ['retries as a word', withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, retries: three }'), 'services.www.retries', 'expected a whole number from 0 to 10, got "three"'],
    ['retries out of range', withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, retries: 11 }'), 'services.www.retries', 'expected a whole number from 0 to 10, got 11'],
    ['weight above 256', withPool('{ members: [ { address: 10.0.0.1:80, weight: 257 } ] }'), 'pools.web.members[0].weight', 'expected a whole number from 0 to 256, got 257'],
    ['fractional weight', withPool('{ members: [ { address: 10.0.0.1:80, weight: 1.5 } ] }'), 'pools.web.members[0].weight', 'expected a whole number from 0 to 256, got 1.5'],
    ['negative max-connections', withPool('{ members: [ { address: 10.0.0.1:80, max-connections: -1 } ] }'), 'pools.web.members[0].max-connections', 'expected a whole number 0 or more, got -1'],
    ['backup: yes', withPool('{ members: [ { address: 10.0.0.1:80, backup: yes } ] }'), 'pools.web.members[0].backup', 'expected true or false, got "yes"'],
    ['members not a list', withPool('{ members: 10.0.0.1:80 }'), 'pools.web.members', 'expected a list of members, got "10.0.0.1:80"'],
    ['no members', withPool('{ members: [] }'), 'pools.web.members', 'expected at least one member, got an empty list'],
    ['members missing', withPool('{ algorithm: round-robin }'), 'pools.web.members', 'missing; expected a list of members'],
    ['a pool that is not a map', withPool('5'), 'pools.web', 'expected a pool: a map with members (and algorithm, queue), got 5'],
    ['an unknown algorithm', withPool('{ algorithm: roundrobin, members: [ { address: 10.0.0.1:80 } ] }'), 'pools.web.algorithm',
      'expected round-robin, weighted-round-robin, least-connections, weighted-least-connections, random-two, source-hash, maglev or least-time, got "roundrobin"'],
    ['queue max negative', withPool('{ members: [ { address: 10.0.0.1:80 } ], queue: { max: -5 } }'), 'pools.web.queue.max', 'expected a whole number 0 or more, got -5'],
    ['an id with a space', withPool('{ members: [ { address: 10.0.0.1:80, id: "web 1" } ] }'), 'pools.web.members[0].id', 'expected an id of 1-64 letters, digits, ".", "_", ":" or "-", got "web 1"'],
    ['an unknown mode', withService('{ listen: 127.0.0.1:80, mode: sctp, pool: web }'), 'services.www.mode', 'expected tcp, udp, http, nat or dsr, got "sctp"'],
    ['a missing mode', withService('{ listen: 127.0.0.1:80, pool: web }'), 'services.www.mode', 'missing; expected tcp, udp, http, nat or dsr'],
    ['a missing listen', withService('{ mode: tcp, pool: web }'), 'services.www.listen', 'missing; expected host:port (IPv6 in brackets)'],
    ['an empty pool value', withService('{ listen: 127.0.0.1:80, mode: tcp, pool: }'), 'services.www.pool', 'expected the name of a pool, got an empty value'],
    ['a bad log level', `global: { log-level: loud }\n${withPool('{ members: [ { address: 10.0.0.1:80 } ] }')}`, 'global.log-level', 'expected fatal, error, warn, info, debug, trace or silent, got "loud"'],
    ['a bad proxy-protocol', withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, proxy-protocol: v3 }'), 'services.www.proxy-protocol', 'expected v1, v2 or none, got "v3"'],
    ['timeouts not a map', withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, timeouts: 5s }'), 'services.www.timeouts', 'expected a map with connect and idle, got "5s"'],
    ['a bad service name', 'services:\n  "web site": { listen: 127.0.0.1:80, mode: tcp, pool: web }\npools:\n  web: { members: [ { address: 10.0.0.1:80 } ] }\n', 'services["web site"]',
      'expected a service name of letters, digits, "_" and "-" (at most 64, starting with a letter or digit), got "web site"'],
    ['services not a map', 'services: [ www ]\npools: {}\n', 'services', 'expected a map of services by name, got a list'],
    ['pools missing', 'services: {}\n', 'pools', 'missing; expected a map of pools by name'],
    ['an empty file', '', '', 'expected a map with services and pools (and optionally global, logs, admin and ha), got an empty value'],
  ];
  for (const [name, text, path, message] of cases) {
    it(name, () => assert.deepEqual(onlyIssue(text), [path, message]));
  }
});

describe('modes', () => {
  it('refuses an http key on a tcp service, and a tcp one on an http service', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, forwarded: none }')), [
      'services.www.forwarded',
      'forwarded applies to http services only; this service is tcp',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: udp, pool: web, timeouts: { headers: 5s } }')), [
      'services.www.timeouts.headers',
      'the headers timeout applies to http services only; this service is udp',
    ]);
  });

  it('refuses proxy-protocol on a udp service', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:53, mode: udp, pool: web, proxy-protocol: v1 }')), [
      'services.www.proxy-protocol',
      'only tcp services can send a PROXY protocol header; this service is udp',
    ]);
  });

  // every key a user-space mode does not use is refused with the reason, never silently ignored
  const unused: [string, string, string, string][] = [
    ['retries on udp', '{ listen: 127.0.0.1:53, mode: udp, pool: web, retries: 2 }', 'services.www.retries',
      'retries counts the members a tcp or http service tries to connect to; a udp service sends each flow to one member and does not connect, so there is nothing to retry'],
    ['a connect timeout on udp', '{ listen: 127.0.0.1:53, mode: udp, pool: web, timeouts: { connect: 1s } }', 'services.www.timeouts.connect',
      'a udp service does not connect to its members; timeouts.idle is the only timeout of a udp service'],
    ['proxy-protocol on http', '{ listen: 127.0.0.1:80, mode: http, pool: web, proxy-protocol: v2 }', 'services.www.proxy-protocol',
      'only tcp services can send a PROXY protocol header; this service is http'],
    ['max-flows on http', '{ listen: 127.0.0.1:80, mode: http, pool: web, max-flows: 10 }', 'services.www.max-flows',
      'max-flows limits udp flows; this service is http (use max-connections on members)'],
  ];
  for (const [name, svc, path, message] of unused) {
    it(`refuses ${name}`, () => assert.deepEqual(onlyIssue(withService(svc)), [path, message]));
  }

  it('hints that https is http with a tls section', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:443, mode: https, pool: web }')), [
      'services.www.mode',
      'expected tcp, udp, http, nat or dsr, got "https"; an https service is mode: http with a tls section (tls: { certificates: [ { cert: ..., key: ... } ] })',
    ]);
    assert.match(onlyIssue(withService('{ listen: 127.0.0.1:443, mode: TLS, pool: web }'))[1], /use mode: tcp$/);
  });

  it('refuses max-flows on a tcp service', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, max-flows: 10 }')), [
      'services.www.max-flows',
      'max-flows limits udp flows; this service is tcp (use max-connections on members)',
    ]);
  });
});

describe('addresses', () => {
  it('wants a port', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 10.0.0.1, mode: tcp, pool: web }')), [
      'services.www.listen',
      'expected host:port (IPv6 in brackets), got "10.0.0.1"',
    ]);
  });

  it('wants IPv6 in brackets', () => {
    assert.deepEqual(onlyIssue(withPool('{ members: [ { address: "2001:db8::1:80" } ] }')), [
      'pools.web.members[0].address',
      'expected host:port with an IPv6 host in brackets, like [2001:db8::1]:80, got "2001:db8::1:80"',
    ]);
  });

  it('wants a port in range: 0-65535 to listen, 1-65535 for a member', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:65536, mode: tcp, pool: web }')), [
      'services.www.listen',
      'expected a port from 0 to 65535, got "65536"',
    ]);
    assert.deepEqual(onlyIssue(withPool('{ members: [ { address: 10.0.0.1:0 } ] }')), [
      'pools.web.members[0].address',
      'expected a port from 1 to 65535, got "0"',
    ]);
  });
});

describe('durations', () => {
  it('names the expected form', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, timeouts: { idle: 5 min } }')), [
      'services.www.timeouts.idle',
      'expected a duration like 500ms, 2s, 5m or 1h, got "5 min"',
    ]);
    assert.deepEqual(onlyIssue(withPool('{ members: [ { address: 10.0.0.1:80 } ], queue: { timeout: 1.5s } }')), [
      'pools.web.queue.timeout',
      'expected a duration like 500ms, 2s, 5m or 1h, got "1.5s"',
    ]);
  });

  it('refuses a zero connect timeout but allows a zero shutdown grace', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, timeouts: { connect: 0s } }')), [
      'services.www.timeouts.connect',
      'expected a duration above 0, got "0s"',
    ]);
    const text = `global: { shutdown-grace: 0s }\n${withPool('{ members: [ { address: 10.0.0.1:80 } ] }')}`;
    assert.equal(parseConfig(text, 'grace.yaml', {}).global.shutdownGrace, 0);
  });
});

describe('rules across keys', () => {
  it('a service names a pool that does not exist', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: wbe }')), [
      'services.www.pool',
      'no pool named "wbe"; did you mean "web"?',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: images }')), [
      'services.www.pool',
      'no pool named "images"; pools are: web',
    ]);
  });

  const pools = 'pools:\n  web: { members: [ { address: 10.0.0.1:80 } ] }\n';
  const clashes: [string, string, string, string][] = [
    ['the same address twice', '10.0.0.1:80', '10.0.0.1:80', 'tcp 10.0.0.1:80 is already the listener of services.a'],
    ['0.0.0.0 after a specific address', '10.0.0.1:80', '0.0.0.0:80', 'tcp 0.0.0.0:80 overlaps services.a on 10.0.0.1:80 (0.0.0.0 takes the port on every IPv4 address)'],
    ['a specific address after 0.0.0.0', '0.0.0.0:80', '10.0.0.1:80', 'tcp 10.0.0.1:80 overlaps services.a on 0.0.0.0:80 (0.0.0.0 takes the port on every IPv4 address)'],
    [':: and an IPv4 address (dual-stack)', '"[::]:80"', '10.0.0.1:80', 'tcp 10.0.0.1:80 overlaps services.a on [::]:80 (:: takes the port on every IPv6 and IPv4 address)'],
    [':: and an IPv6 address', '"[2001:db8::1]:80"', '"[::]:80"', 'tcp [::]:80 overlaps services.a on [2001:db8::1]:80 (:: takes the port on every IPv6 and IPv4 address)'],
    ['two spellings of one IPv6 address', '"[::1]:80"', '"[0:0::1]:80"', 'tcp [0:0::1]:80 overlaps services.a on [::1]:80 (both are ::1)'],
    ['the same hostname twice', 'lb.example:80', 'LB.example:80', 'tcp LB.example:80 overlaps services.a on lb.example:80 (both are lb.example)'],
  ];
  for (const [name, first, second, message] of clashes) {
    it(`two tcp services on ${name}`, () => {
      const text = `services:\n  a: { listen: ${first}, mode: tcp, pool: web }\n  b: { listen: ${second}, mode: tcp, pool: web }\n${pools}`;
      assert.deepEqual(onlyIssue(text), ['services.b.listen', message]);
    });
  }

  it('a nat or dsr service takes its protocol\'s port from user-space services too', () => {
    const text = `services:
  a: { listen: 10.0.0.1:53, mode: udp, pool: web }
  b: { listen: 10.0.0.1:53, mode: nat, protocol: udp, pool: web }
  c: { listen: 0.0.0.0:80, mode: http, pool: web }
  d: { listen: 10.0.0.2:80, mode: dsr, interface: eth1, pool: web }
  e: { listen: 10.0.0.1:53, mode: nat, pool: web }
${pools}`;
    assert.deepEqual(issuesOf(text).map((i) => [i.path, i.message]), [
      ['services.b.listen', 'nat (udp) 10.0.0.1:53 is already the listener of services.a (udp)'],
      ['services.d.listen', 'dsr (tcp) 10.0.0.2:80 overlaps services.c (http) on 0.0.0.0:80 (0.0.0.0 takes the port on every IPv4 address)'],
    ]);
  });

  it('does not count different ports, transports, or port 0 as clashes', () => {
    const text = `services:
  a: { listen: 0.0.0.0:80, mode: tcp, pool: web }
  b: { listen: 0.0.0.0:81, mode: tcp, pool: web }
  c: { listen: 0.0.0.0:80, mode: udp, pool: web }
  d: { listen: "[::1]:80", mode: udp, pool: web }
  e: { listen: 0.0.0.0:0, mode: tcp, pool: web }
  f: { listen: 10.0.0.1:0, mode: tcp, pool: web }
${pools}`;
    assert.equal(Object.keys(parseConfig(text, 'ports.yaml', {}).services).length, 6);
  });

  it('member ids must be unique in a pool, written or defaulted', () => {
    const text = withPool(`
    members:
      - { address: 10.0.0.1:80 }
      - { address: 10.0.0.2:80, id: b }
      - { address: 10.0.0.1:80 }
      - { address: 10.0.0.3:80, id: b }
      - { address: 10.0.0.1:80, id: other }`);
    const issues = issuesOf(text).map((i) => [i.path, i.message]);
    assert.deepEqual(issues, [
      ['pools.web.members[2].id', 'duplicate member id "10.0.0.1:80", also used by members[0] (an id defaults to the address; give one an id)'],
      ['pools.web.members[3].id', 'duplicate member id "b", also used by members[1] (an id defaults to the address; give one an id)'],
    ]);
  });

  it('the same id in two pools is fine', () => {
    const text = `services: {}
pools:
  a: { members: [ { address: 10.0.0.1:80, id: x } ] }
  b: { members: [ { address: 10.0.0.2:80, id: x } ] }
`;
    assert.equal(parseConfig(text, 'ids.yaml', {}).pools.b.members[0].id, 'x');
  });
});

describe('several problems at once', () => {
  const text = `global:
  log-level: loud
services:
  www:
    listen: 10.0.0.1
    mode: sctp
    pool: images
  api:
    listen: 127.0.0.1:80
    mode: tcp
    pool: web
  api2:
    listen: 0.0.0.0:80
    mode: tcp
    pool: web
    retries: -1
pools:
  web:
    algorithm: fastest
    members:
      - address: 10.0.0.1:80
      - address: \${BACKEND}
      - address: 10.0.0.1:80
`;

  it('reports every one, in file order, with lines', () => {
    const issues = issuesOf(text).map((i) => `${i.line}: ${i.path}: ${i.message}`);
    assert.deepEqual(issues, [
      '2: global.log-level: expected fatal, error, warn, info, debug, trace or silent, got "loud"',
      '5: services.www.listen: expected host:port (IPv6 in brackets), got "10.0.0.1"',
      '6: services.www.mode: expected tcp, udp, http, nat or dsr, got "sctp"',
      '7: services.www.pool: no pool named "images"; pools are: web',
      '13: services.api2.listen: tcp 0.0.0.0:80 overlaps services.api on 127.0.0.1:80 (0.0.0.0 takes the port on every IPv4 address)',
      '16: services.api2.retries: expected a whole number from 0 to 10, got -1',
      '19: pools.web.algorithm: expected round-robin, weighted-round-robin, least-connections, weighted-least-connections, random-two, source-hash, maglev or least-time, got "fastest"',
      '22: pools.web.members[1].address: environment variable BACKEND is not set',
      '23: pools.web.members[2].id: duplicate member id "10.0.0.1:80", also used by members[0] (an id defaults to the address; give one an id)',
    ]);
  });

  it('formats them for people, one per line', () => {
    let error: unknown;
    try {
      parseConfig(text, 'etc/furiwake.yaml', {});
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof ConfigError);
    const lines = error.format().split('\n');
    assert.equal(lines.length, 9);
    assert.equal(lines[0], 'etc/furiwake.yaml:2: global.log-level: expected fatal, error, warn, info, debug, trace or silent, got "loud"');
    assert.equal(lines[7], 'etc/furiwake.yaml:22: pools.web.members[1].address: environment variable BACKEND is not set');
    assert.equal(error.message, error.format());
  });
});

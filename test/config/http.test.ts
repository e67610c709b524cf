// The keys of http services: defaults, every key read, the short forms (true/false), sizes,
// and the keys refused where they do not apply.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { onlyIssue, withService } from './refused.ts';

function http(service: string) {
  return parseConfig(withService(`{ listen: 127.0.0.1:80, mode: http, pool: web, ${service} }`), 'http.yaml', {}).services.www;
}

describe('http service keys', () => {
  it('fills every default', () => {
    const s = parseConfig(withService('{ listen: 127.0.0.1:80, mode: http, pool: web }'), 'http.yaml', {}).services.www;
    assert.deepEqual(s.timeouts, { connect: 5_000, idle: 60_000 });
    assert.deepEqual(s.http, {
      timeouts: { headers: 10_000, response: 60_000, keepAlive: 30_000, request: 0, body: 60_000, minBodyRate: 500 },
      limits: { requestLine: 8192, headers: 32768 },
      forwarded: 'x-forwarded',
      tls: null,
      redirectHttps: null,
      memberTls: null,
      memberKeepAlive: { maxIdle: 64, idleTimeout: 30_000 },
      accessLog: true,
      trustedProxies: [],
      routes: [],
      http2: { h2c: false, maxConcurrentStreams: 100, maxResetsPerSecond: 100 },
      headers: null,
      requestId: null,
      errorPages: {},
    });
  });

  it('reads every key when given', () => {
    const s = http(`timeouts: { connect: 1s, idle: 2m, headers: 5s, response: 30s, keep-alive: 10s, request: 2m, body: 20s, min-body-rate: 1k },
      tls: { certificates: [ { cert: a.pem, key: a.key, names: [ WWW.Example.com, "*.example.org" ] }, { cert: b.pem, key: b.key } ], min-version: TLSv1.3 },
      forwarded: both, limits: { request-line: 4k, headers: 64k },
      member-tls: { verify: false, sni: app.internal, ca: ca.pem }, member-keep-alive: { max-idle: 8, idle-timeout: 5s }, access-log: false`);
    assert.deepEqual(s.timeouts, { connect: 1_000, idle: 120_000 });
    assert.deepEqual(s.http, {
      timeouts: { headers: 5_000, response: 30_000, keepAlive: 10_000, request: 120_000, body: 20_000, minBodyRate: 1024 },
      limits: { requestLine: 4096, headers: 65536 },
      forwarded: 'both',
      tls: {
        certificates: [
          { certFile: 'a.pem', keyFile: 'a.key', cert: '', key: '', names: ['www.example.com', '*.example.org'] },
          { certFile: 'b.pem', keyFile: 'b.key', cert: '', key: '', names: [] },
        ],
        minVersion: 'TLSv1.3',
        alpn: ['h2', 'http/1.1'],
      },
      redirectHttps: null,
      memberTls: { verify: false, sni: 'app.internal', caFile: 'ca.pem', ca: null },
      memberKeepAlive: { maxIdle: 8, idleTimeout: 5_000 },
      accessLog: false,
      trustedProxies: [],
      routes: [],
      http2: { h2c: false, maxConcurrentStreams: 100, maxResetsPerSecond: 100 },
      headers: null,
      requestId: null,
      errorPages: {},
    });
  });

  it('takes true for a section with its defaults, and false for none', () => {
    assert.deepEqual(http('redirect-https: true').http!.redirectHttps, { port: 443, status: 301 });
    assert.deepEqual(http('redirect-https: { port: 8443, status: 308 }').http!.redirectHttps, { port: 8443, status: 308 });
    assert.equal(http('redirect-https: false').http!.redirectHttps, null);
    assert.deepEqual(http('member-tls: true').http!.memberTls, { verify: true, sni: null, caFile: null, ca: null });
    assert.equal(http('member-tls: false').http!.memberTls, null);
  });

  it('says what a size, a status and a name must look like', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: http, pool: web, limits: { headers: 10 } }')), [
      'services.www.limits.headers', 'expected a size from 1024 to 1048576 bytes, like 8192, 8k or 1m, got 10',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: http, pool: web, redirect-https: { status: 200 } }')), [
      'services.www.redirect-https.status', 'expected 301, 302, 307 or 308, got 200',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: http, pool: web, member-tls: { sni: "a b" } }')), [
      'services.www.member-tls.sni', 'expected a DNS name like www.example.com or *.example.com, got "a b"',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: http, pool: web, tls: { certificates: [] } }')), [
      'services.www.tls.certificates', 'expected at least one certificate, got an empty list',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: http, pool: web, forwarded: yes }')), [
      'services.www.forwarded', 'expected x-forwarded, forwarded, both or none, got "yes"',
    ]);
  });

  it('says what the body timeouts and the per-client cap must look like, and where they apply', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: http, pool: web, timeouts: { min-body-rate: fast } }')), [
      'services.www.timeouts.min-body-rate', 'expected a size from 0 to 1073741824 bytes, like 8192, 8k or 1m, got "fast"',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, timeouts: { body: 5s } }')), [
      'services.www.timeouts.body', 'the body timeout applies to http services only; this service is tcp',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: udp, pool: web, max-connections-per-client: 5 }')), [
      'services.www.max-connections-per-client', 'max-connections-per-client caps the tcp and http connections of a client; this service is udp',
    ]);
    assert.equal(parseConfig(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, max-connections-per-client: 5 }'), 'http.yaml', {}).services.www.maxConnectionsPerClient, 5);
    assert.equal(http('timeouts: { request: 0 }').http!.timeouts.request, 0);
  });

  it('reads tls.alpn and http2, says what they must look like, and refuses h2c on an https service', () => {
    assert.deepEqual(http('tls: { certificates: [ { cert: a, key: b } ], alpn: [ http/1.1 ] }').http!.tls!.alpn, ['http/1.1']);
    assert.deepEqual(http('http2: { h2c: true, max-concurrent-streams: 250, max-resets-per-second: 20 }').http!.http2, { h2c: true, maxConcurrentStreams: 250, maxResetsPerSecond: 20 });
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:443, mode: http, pool: web, tls: { certificates: [ { cert: a, key: b } ], alpn: [ h3 ] } }')), [
      'services.www.tls.alpn[0]', 'expected h2 or http/1.1, got "h3"',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:443, mode: http, pool: web, tls: { certificates: [ { cert: a, key: b } ], alpn: [] } }')), [
      'services.www.tls.alpn', 'expected h2, http/1.1 or both, got an empty list',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: http, pool: web, http2: { max-concurrent-streams: 0 } }')), [
      'services.www.http2.max-concurrent-streams', 'expected a whole number from 1 to 10000, got 0',
    ]);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:443, mode: http, pool: web, tls: { certificates: [ { cert: a, key: b } ] }, http2: { h2c: true } }')), [
      'services.www.http2.h2c', 'h2c is HTTP/2 in clear text; an https service offers HTTP/2 in ALPN (tls.alpn)',
    ]);
  });

  it('refuses a redirect on a service that terminates TLS itself', () => {
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:443, mode: http, pool: web, tls: { certificates: [ { cert: a, key: b } ] }, redirect-https: true }')), [
      'services.www.redirect-https', 'this service terminates TLS itself; redirect-https belongs on its plain http twin',
    ]);
  });

  it('refuses every http key on tcp and udp services', () => {
    for (const [key, value] of [['tls', '{ certificates: [ { cert: a, key: b } ] }'], ['redirect-https', 'true'], ['limits', '{}'], ['member-tls', 'true'],
      ['member-keep-alive', '{}'], ['http2', '{ h2c: true }']]) {
      assert.deepEqual(onlyIssue(withService(`{ listen: 127.0.0.1:80, mode: tcp, pool: web, ${key}: ${value} }`)), [
        `services.www.${key}`, `${key} applies to http services only; this service is tcp`,
      ]);
    }
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: tcp, pool: web, timeouts: { keep-alive: 5s } }')), [
      'services.www.timeouts.keep-alive', 'the keep-alive timeout applies to http services only; this service is tcp',
    ]);
  });

  it('takes access-log on tcp and udp services (their connection log, off by default), not on nat', () => {
    const tcp = (text: string) => parseConfig(`${text}\npools:\n  web: { members: [ { address: 127.0.0.1:81 } ] }\n`, 'test.yaml').services.www;
    assert.equal(tcp('services:\n  www: { listen: 127.0.0.1:80, mode: tcp, pool: web, access-log: true }').accessLog, true);
    assert.equal(tcp('services:\n  www: { listen: 127.0.0.1:80, mode: udp, pool: web, access-log: false }').accessLog, false);
    assert.equal(tcp('services:\n  www: { listen: 127.0.0.1:80, mode: udp, pool: web }').accessLog, undefined);
    assert.equal(tcp('services:\n  www: { listen: 127.0.0.1:80, mode: http, pool: web }').accessLog, undefined);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:80, mode: nat, pool: web, access-log: true }')), [
      'services.www.access-log', 'access-log applies to http, tcp and udp services; this service is nat (the kernel forwards its packets, furiwake sees no connection end)',
    ]);
  });

  it('sees an http and a tcp service on one port as a clash', () => {
    const [path, message] = onlyIssue(`services:
  a: { listen: 127.0.0.1:80, mode: http, pool: web }
  b: { listen: 127.0.0.1:80, mode: tcp, pool: web }
pools:
  web: { members: [ { address: 10.0.0.1:80 } ] }
`);
    assert.equal(path, 'services.b.listen');
    assert.match(message, /already the listener of services.a/);
  });
});

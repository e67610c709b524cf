// Valid files become the normalized Config: camelCase, durations in ms, defaults filled.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';

const minimal = `
services:
  www:
    listen: 127.0.0.1:8080
    mode: tcp
    pool: web
pools:
  web:
    members:
      - address: 10.0.0.1:80
`;

describe('normalizing a valid file', () => {
  it('fills every default', () => {
    const expected: Config = {
      global: { shutdownGrace: 10_000, logLevel: 'info', workers: 'auto' },
      services: {
        www: {
          listen: { host: '127.0.0.1', port: 8080, ip: '127.0.0.1' },
          mode: 'tcp',
          pool: 'web',
          timeouts: { connect: 5_000, idle: 300_000 },
          retries: 3,
          proxyProtocol: null,
          acceptProxy: false,
          maxFlows: 65_536,
          balancePer: 'flow',
          maxConnectionsPerClient: 0,
          persistence: null,
          access: null,
          kernel: null,
          http: null,
          tcp: { routes: [] },
        },
      },
      pools: {
        web: {
          algorithm: 'round-robin',
          members: [
            { address: { host: '10.0.0.1', port: 80, ip: '10.0.0.1' }, id: '10.0.0.1:80', weight: 1, maxConnections: 0, backup: false, health: null },
          ],
          queue: { max: 1_000, timeout: 5_000 },
          health: { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'checking' },
          slowStart: 0,
          onMemberDown: null,
          passiveHealth: { failures: 5, ejection: 30_000, maxEjection: 300_000, maxEjectedPercent: 50 },
          memberProtocol: 'http1',
          http2: { maxConnectionsPerMember: 4, pingInterval: 30_000, pingTimeout: 10_000 },
        },
      },
    };
    assert.deepEqual(parseConfig(minimal, 'minimal.yaml', {}), expected);
  });

  it('gives udp services a 30s idle timeout', () => {
    const config = parseConfig(minimal.replace('mode: tcp', 'mode: udp'), 'udp.yaml', {});
    assert.deepEqual(config.services.www.timeouts, { connect: 5_000, idle: 30_000 });
    assert.equal(config.services.www.maxFlows, 65_536);
  });

  it('reads every key when given', () => {
    const text = `
global: { shutdown-grace: 30s, log-level: debug, workers: auto }
services:
  www:
    listen: "[::1]:8443"
    mode: tcp
    pool: web
    timeouts: { connect: 250ms, idle: 1h }
    retries: 0
    proxy-protocol: v2
  logs:
    listen: 0.0.0.0:5514
    mode: udp
    pool: web
    max-flows: 10
pools:
  web:
    algorithm: maglev
    members:
      - { address: 10.0.0.1:80, id: a, weight: 0, max-connections: 10, backup: true }
      - { address: "[2001:db8::2]:80" }
    queue: { max: 0, timeout: 2s }
`;
    const config = parseConfig(text, 'all.yaml', {});
    assert.deepEqual(config.global, { shutdownGrace: 30_000, logLevel: 'debug', workers: 'auto' });
    assert.deepEqual(config.services.www, {
      listen: { host: '::1', port: 8443, ip: '::1' },
      mode: 'tcp',
      pool: 'web',
      timeouts: { connect: 250, idle: 3_600_000 },
      retries: 0,
      proxyProtocol: 'v2',
      acceptProxy: false,
      maxFlows: 65_536,
      balancePer: 'flow',
          maxConnectionsPerClient: 0,
      kernel: null,
      persistence: null,
      access: null,
      http: null,
      tcp: { routes: [] },
    });
    assert.equal(config.services.logs.maxFlows, 10);
    assert.deepEqual(config.pools.web, {
      algorithm: 'maglev',
      members: [
        { address: { host: '10.0.0.1', port: 80, ip: '10.0.0.1' }, id: 'a', weight: 0, maxConnections: 10, backup: true, health: null },
        // The default id is the address as written, brackets included.
        { address: { host: '2001:db8::2', port: 80, ip: '2001:db8::2' }, id: '[2001:db8::2]:80', weight: 1, maxConnections: 0, backup: false, health: null },
      ],
      queue: { max: 0, timeout: 2_000 },
      health: { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'checking' },
      slowStart: 0,
      onMemberDown: null,
      passiveHealth: { failures: 5, ejection: 30_000, maxEjection: 300_000, maxEjectedPercent: 50 },
          memberProtocol: 'http1',
          http2: { maxConnectionsPerMember: 4, pingInterval: 30_000, pingTimeout: 10_000 },
    });
  });

  it('treats an empty optional section as all defaults', () => {
    const text = minimal.replace('    pool: web\n', '    pool: web\n    timeouts:\n') + '    queue:\nglobal:\n';
    const config = parseConfig(text, 'empty-sections.yaml', {});
    assert.deepEqual(config.global, { shutdownGrace: 10_000, logLevel: 'info', workers: 'auto' });
    assert.deepEqual(config.services.www.timeouts, { connect: 5_000, idle: 300_000 });
    assert.deepEqual(config.pools.web.queue, { max: 1_000, timeout: 5_000 });
  });

  it('accepts numbers and booleans written as text, as ${VAR} produces them', () => {
    const text = minimal.replace('    pool: web\n', '    pool: web\n    retries: "2"\n    timeouts: { idle: "1500" }\n')
      .replace('- address: 10.0.0.1:80', '- { address: 10.0.0.1:80, weight: "7", max-connections: "20", backup: "true" }');
    const config = parseConfig(text, 'text.yaml', {});
    assert.equal(config.services.www.retries, 2);
    assert.equal(config.services.www.timeouts.idle, 1_500);
    assert.deepEqual(
      { weight: config.pools.web.members[0].weight, max: config.pools.web.members[0].maxConnections, backup: config.pools.web.members[0].backup },
      { weight: 7, max: 20, backup: true },
    );
  });

  it('takes proxy-protocol: none as no header', () => {
    const config = parseConfig(minimal.replace('    pool: web\n', '    pool: web\n    proxy-protocol: none\n'), 'none.yaml', {});
    assert.equal(config.services.www.proxyProtocol, null);
  });

  it('leaves hostnames unresolved (no ip) until loadConfig', () => {
    const config = parseConfig(minimal.replace('10.0.0.1:80', 'backend.example:80'), 'names.yaml', {});
    assert.deepEqual(config.pools.web.members[0].address, { host: 'backend.example', port: 80 });
    assert.equal(config.pools.web.members[0].id, 'backend.example:80');
  });

  it('lets listeners use port 0, even several on one address', () => {
    const text = `
services:
  a: { listen: 127.0.0.1:0, mode: tcp, pool: web }
  b: { listen: 127.0.0.1:0, mode: tcp, pool: web }
pools:
  web: { members: [ { address: 127.0.0.1:9 } ] }
`;
    const config = parseConfig(text, 'ephemeral.yaml', {});
    assert.equal(config.services.a.listen.port, 0);
    assert.equal(config.services.b.listen.port, 0);
  });

  it('allows tcp and udp on the same port, and a specific IPv6 beside 0.0.0.0', () => {
    const text = `
services:
  dns-udp: { listen: 0.0.0.0:53, mode: udp, pool: dns }
  dns-tcp: { listen: 0.0.0.0:53, mode: tcp, pool: dns }
  dns-v6: { listen: "[::1]:53", mode: udp, pool: dns }
pools:
  dns: { members: [ { address: 10.0.0.53:53 } ] }
`;
    assert.deepEqual(Object.keys(parseConfig(text, 'dns.yaml', {}).services), ['dns-udp', 'dns-tcp', 'dns-v6']);
  });

  it('accepts no services and no pools', () => {
    assert.deepEqual(parseConfig('services: {}\npools: {}\n', 'empty.yaml', {}).services, {});
  });

  it('reads the same config from JSON', () => {
    const json = JSON.stringify({
      services: { www: { listen: '127.0.0.1:8080', mode: 'tcp', pool: 'web' } },
      pools: { web: { members: [{ address: '10.0.0.1:80' }], queue: { timeout: 1000 } } },
    }, null, 2);
    const config = parseConfig(json, 'config.json', {});
    assert.deepEqual(config, { ...parseConfig(minimal, 'minimal.yaml', {}), pools: { web: { ...parseConfig(minimal, 'm.yaml', {}).pools.web, queue: { max: 1_000, timeout: 1_000 } } } });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffConfig, isEmptyDiff, type ConfigDiff } from '../../src/config/diff.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';

const base = `
services:
  www: { listen: 0.0.0.0:80, mode: tcp, pool: web }
  dns: { listen: 0.0.0.0:53, mode: udp, pool: dns }
pools:
  web: { members: [ { address: 10.0.0.1:80 }, { address: 10.0.0.2:80 } ] }
  dns: { members: [ { address: 10.0.0.53:53 } ] }
`;
const parse = (text: string): Config => parseConfig(text, 'diff.yaml', {});
const nothing: ConfigDiff = {
  services: { added: [], removed: [], relisten: [], changed: [] },
  pools: { added: [], removed: [], changed: [] },
  global: false,
};

describe('diffConfig', () => {
  it('finds nothing between equal configs', () => {
    const diff = diffConfig(parse(base), parse(base));
    assert.deepEqual(diff, nothing);
    assert.ok(isEmptyDiff(diff));
  });

  it('finds added and removed services and pools', () => {
    const next = parse(`
services:
  www: { listen: 0.0.0.0:80, mode: tcp, pool: web }
  api: { listen: 0.0.0.0:8080, mode: tcp, pool: api }
pools:
  web: { members: [ { address: 10.0.0.1:80 }, { address: 10.0.0.2:80 } ] }
  api: { members: [ { address: 10.0.1.1:80 } ] }
`);
    assert.deepEqual(diffConfig(parse(base), next), {
      ...nothing,
      services: { ...nothing.services, added: ['api'], removed: ['dns'] },
      pools: { ...nothing.pools, added: ['api'], removed: ['dns'] },
    });
  });

  it('needs a new listener when the address, port or mode changes', () => {
    const next = parse(base.replace('0.0.0.0:80,', '10.0.0.100:80,').replace('0.0.0.0:53, mode: udp', '0.0.0.0:53, mode: tcp'));
    assert.deepEqual(diffConfig(parse(base), next).services, { ...nothing.services, relisten: ['www', 'dns'] });
  });

  it('needs a new listener when an http service starts or stops reading a PROXY header first', () => {
    const http = base.replace('mode: tcp, pool: web }', 'mode: http, pool: web }');
    const next = parse(http.replace('mode: http, pool: web }', 'mode: http, pool: web, accept-proxy: true }'));
    assert.deepEqual(diffConfig(parse(http), next).services, { ...nothing.services, relisten: ['www'] });
    // a tcp service reads the header on either engine: its listener stays
    const tcp = parse(base.replace('mode: tcp, pool: web }', 'mode: tcp, pool: web, accept-proxy: true }'));
    assert.deepEqual(diffConfig(parse(base), tcp).services, { ...nothing.services, changed: ['www'] });
  });

  it('keeps the listener when only settings change', () => {
    const next = parse(base.replace('pool: web }', 'pool: web, retries: 1, timeouts: { idle: 1m } }').replace('pool: dns }', 'pool: web }'));
    const diff = diffConfig(parse(base), next);
    assert.deepEqual(diff.services, { ...nothing.services, changed: ['www', 'dns'] });
    assert.ok(!isEmptyDiff(diff));
  });

  it('compares listeners by resolved address', () => {
    const old = parse(base);
    const next = structuredClone(old);
    next.services.www.listen = { host: 'any.example', port: 80, ip: '0.0.0.0' };
    assert.deepEqual(diffConfig(old, next).services, { ...nothing.services, changed: ['www'] });
  });

  it('finds a pool changed by a member, a weight or a setting', () => {
    const next = parse(base.replace('{ address: 10.0.0.2:80 }', '{ address: 10.0.0.2:80, weight: 5 }').replace('10.0.0.53:53 } ]', '10.0.0.53:53 } ], algorithm: maglev'));
    assert.deepEqual(diffConfig(parse(base), next).pools, { ...nothing.pools, changed: ['web', 'dns'] });
  });

  it('notices a change of the global settings', () => {
    const diff = diffConfig(parse(base), parse(`global: { log-level: debug }\n${base}`));
    assert.deepEqual(diff, { ...nothing, global: true });
    assert.ok(!isEmptyDiff(diff));
  });
});

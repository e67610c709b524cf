// Every file in examples/ is a valid config, and the manual mentions each one.

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = (await readdir(`${root}examples`)).filter((name) => /\.(ya?ml|json)$/.test(name)).sort();
/** the variables the examples read, as an operator would export them */
const env = { LISTEN_ADDR: '0.0.0.0', APP_WEIGHT: '3', LOG_HOST: '10.2.0.2', RADIUS_SECRET: 'radius-secret', PROBE_PASSWORD: 'probe-password', FURIWAKE_COOKIE_SECRET: 'cookie-secret-of-length', FURIWAKE_ADMIN_TOKEN: 'an-admin-token-of-some-length' };

describe('examples/', () => {
  it('holds the examples the manual promises', () => {
    for (const name of ['full.yaml', 'ipv6.yaml', 'tcp-basic.yaml', 'udp-dns.yaml']) assert.ok(examples.includes(name), name);
  });

  for (const name of examples) {
    it(`${name} loads`, async () => {
      const config = await loadConfig(`${root}examples/${name}`, env);
      assert.ok(Object.keys(config.services).length > 0);
    });
  }

  it('full.yaml uses every key and ${VAR}', async () => {
    const text = await readFile(`${root}examples/full.yaml`, 'utf8');
    const keys = [
      'global', 'shutdown-grace', 'log-level', 'services', 'listen', 'mode', 'pool', 'timeouts', 'connect', 'idle',
      'retries', 'proxy-protocol', 'max-flows', 'pools', 'algorithm', 'members', 'address', 'id', 'weight',
      'max-connections', 'backup', 'queue', 'max', 'timeout',
    ];
    for (const key of keys) assert.match(text, new RegExp(`\\b${key}:`), key);
    assert.match(text, /\$\{[A-Z_]+\}/);
  });

  it('are each mentioned in docs/configuration.md', async () => {
    const manual = await readFile(`${root}docs/configuration.md`, 'utf8');
    for (const name of examples) assert.ok(manual.includes(`examples/${name}`), name);
  });
});

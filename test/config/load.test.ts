// loadConfig reads the file and resolves hostnames with the system resolver: `localhost`
// resolves everywhere, and names under `.invalid` never do (RFC 6761).

import assert from 'node:assert/strict';
import { promises as dns } from 'node:dns';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'furiwake-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function refusal(file: string, env = {}): Promise<ConfigError> {
  try {
    await loadConfig(file, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail('expected the config to be refused');
}

describe('loadConfig', () => {
  it('resolves hostnames into address.ip and leaves IP literals as they are', async () => {
    const file = await write('localhost.yaml', `
services:
  www: { listen: localhost:0, mode: tcp, pool: web }
pools:
  web:
    members:
      - address: localhost:8080
      - address: 127.0.0.2:8080
`);
    const config = await loadConfig(file, {});
    const { address: expected } = await dns.lookup('localhost');
    assert.deepEqual(config.services.www.listen, { host: 'localhost', port: 0, ip: expected });
    assert.deepEqual(config.pools.web.members[0].address, { host: 'localhost', port: 8080, ip: expected });
    assert.equal(config.pools.web.members[0].id, 'localhost:8080');
    assert.deepEqual(config.pools.web.members[1].address, { host: '127.0.0.2', port: 8080, ip: '127.0.0.2' });
  });

  it('reports every name that does not resolve, with its path and line', async () => {
    const file = await write('invalid.yaml', `services:
  www:
    listen: lb.furiwake.invalid:80
    mode: tcp
    pool: web
pools:
  web:
    members:
      - address: 127.0.0.1:8080
      - address: app.furiwake.invalid:8080
`);
    const error = await refusal(file);
    assert.deepEqual(error.issues.map(({ path, line }) => ({ path, line })), [
      { path: 'services.www.listen', line: 3 },
      { path: 'pools.web.members[1].address', line: 10 },
    ]);
    for (const issue of error.issues) {
      assert.equal(issue.file, file);
      assert.match(issue.message, /^cannot resolve host "(lb|app)\.furiwake\.invalid": /);
    }
  });

  it('finds two listeners on one port once their names are resolved', async () => {
    const { address } = await dns.lookup('localhost');
    const literal = address.includes(':') ? `"[${address}]:9000"` : `${address}:9000`;
    const file = await write('clash.yaml', `services:
  a: { listen: ${literal}, mode: udp, pool: web }
  b: { listen: localhost:9000, mode: udp, pool: web }
pools:
  web: { members: [ { address: 127.0.0.1:53 } ] }
`);
    const error = await refusal(file);
    assert.deepEqual(error.issues.map(({ path, line, message }) => ({ path, line, message })), [
      { path: 'services.b.listen', line: 3, message: `udp localhost:9000 overlaps services.a on ${literal.replaceAll('"', '')} (both are ${address})` },
    ]);
  });

  it('refuses a bad file before any lookup, with all its problems', async () => {
    const file = await write('bad.yaml', `services:
  www: { listen: lb.furiwake.invalid:80, mode: tcp, pool: nowhere }
pools: {}
`);
    const error = await refusal(file);
    assert.deepEqual(error.issues.map((i) => i.message), ['no pool named "nowhere"; there are no pools']);
  });

  it('reads JSON files', async () => {
    const file = await write('config.json', JSON.stringify({
      services: { www: { listen: '127.0.0.1:0', mode: 'udp', pool: 'dns' } },
      pools: { dns: { members: [{ address: 'localhost:53' }] } },
    }));
    const config = await loadConfig(file, {});
    assert.equal(config.services.www.timeouts.idle, 30_000);
    assert.ok(config.pools.dns.members[0].address.ip);
  });

  it('uses the env it is given', async () => {
    const file = await write('env.yaml', 'services: {}\npools:\n  web: { members: [ { address: "${H}:80" } ] }\n');
    const config = await loadConfig(file, { H: '192.0.2.1' });
    assert.equal(config.pools.web.members[0].address.ip, '192.0.2.1');
    const error = await refusal(file, {});
    assert.equal(error.format(), `${file}:3: pools.web.members[0].address: environment variable H is not set`);
  });

  it('says when the file cannot be read', async () => {
    const file = join(dir, 'missing.yaml');
    const error = await refusal(file);
    assert.deepEqual(error.issues, [{ file, path: '', message: 'cannot read the config file: no such file' }]);
    assert.equal(error.format(), `${file}: cannot read the config file: no such file`);
  });
});

// An https monitor's ca, cert and key are taken from the config file's directory, as an https
// service's are, whatever the working directory: what `validate` (loadConfig) accepts, `start`
// (Furiwake.start, whose monitors read the files) can run; a file that is missing or not PEM is
// refused at load with the monitor's path.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import type { GrpcMonitor, HttpMonitor } from '../../src/config/health-types.ts';
import { createLogger } from '../../src/log.ts';
import { certDir, selfSigned } from '../proxy/http/certs.ts';
import { freePort } from '../helpers/ports.ts';

const dir = certDir();
selfSigned(dir, 'client', ['probe.example.com']);
writeFileSync(join(dir, 'not-pem.txt'), 'hello\n');

/** Runs `body` with another working directory than the config file's. */
async function elsewhere<T>(body: () => Promise<T>): Promise<T> {
  const other = mkdtempSync(join(tmpdir(), 'furiwake-cwd-'));
  const cwd = process.cwd();
  process.chdir(other);
  try {
    return await body();
  } finally {
    process.chdir(cwd);
    rmSync(other, { recursive: true, force: true });
  }
}

async function configFile(name: string, monitor: string, memberMonitor = ''): Promise<string> {
  const file = join(dir, name);
  const port = await freePort();
  writeFileSync(file, `
services:
  www: { listen: 127.0.0.1:0, mode: tcp, pool: web }
pools:
  web:
    members:
      - { address: 127.0.0.1:${port}, id: a${memberMonitor === '' ? '' : `, health: { monitors: [ ${memberMonitor} ] }`} }
    health:
      monitors: [ ${monitor} ]
`);
  return file;
}

describe('https monitor files', () => {
  it('resolves relative ca, cert and key from the config file, so start runs what validate accepted', async () => {
    const file = await configFile('ok.yaml', '{ type: https, cert: client.pem, key: client.key, ca: client.pem, interval: 1m }');
    const config = await elsewhere(() => loadConfig(file));
    const tls = (config.pools.web.health.monitors[0] as HttpMonitor).tls;
    assert.deepEqual([tls.ca, tls.cert, tls.key], [join(dir, 'client.pem'), join(dir, 'client.pem'), join(dir, 'client.key')]);
    const app = await elsewhere(() => Furiwake.start(config, createLogger('silent')));
    after(() => app.stop(0));
  });

  it("does the same for a grpc monitor's tls files", async () => {
    const file = await configFile('grpc.yaml', '{ type: grpc, tls: true, ca: client.pem, interval: 1m }');
    const config = await elsewhere(() => loadConfig(file));
    const tls = (config.pools.web.health.monitors[0] as GrpcMonitor).tls;
    assert.equal(tls?.ca, join(dir, 'client.pem'));
  });

  it("does the same for a member's own monitors", async () => {
    const file = await configFile('member.yaml', '{ type: tcp }', '{ type: https, cert: client.pem, key: client.key }');
    const config = await elsewhere(() => loadConfig(file));
    assert.equal((config.pools.web.members[0].health!.monitors![0] as HttpMonitor).tls.key, join(dir, 'client.key'));
  });

  it("resolves a script monitor's relative command from the config file; a bare name stays for PATH", async () => {
    const file = await configFile('script.yaml', '{ type: script, command: ./check.sh }, { type: script, command: checks/db }, { type: script, command: "true" }');
    const config = await elsewhere(() => loadConfig(file));
    const commands = config.pools.web.health.monitors.map((m) => (m.type === 'script' ? m.command : null));
    assert.deepEqual(commands, [join(dir, 'check.sh'), join(dir, 'checks/db'), 'true']);
  });

  it('refuses a missing or non-PEM file at the monitor key, with the file named', async () => {
    const file = await configFile('bad.yaml', '{ type: https, cert: client.pem, key: nope.key }, { type: https, ca: not-pem.txt }');
    const err = await elsewhere(() => loadConfig(file)).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.issues.map((i) => [i.path, i.message]), [
      ['pools.web.health.monitors[0].key', 'cannot read nope.key: no such file'],
      ['pools.web.health.monitors[1].ca', 'not-pem.txt holds no PEM block (-----BEGIN ...)'],
    ]);
  });
});

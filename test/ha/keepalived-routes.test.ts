// An http service with routes serves from every pool its routes reach: the node is unfit to hold
// the VIPs only when all of them, not only the service's own pool, have no usable member.

import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { KeepalivedSupervisor } from '../../src/ha/keepalived.ts';
import { createLogger } from '../../src/log.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { tempDir } from '../helpers/files.ts';

const FAKE = fileURLToPath(new URL('./fake-keepalived.ts', import.meta.url));

it('counts the pools routes reach among the pools behind the VIPs', async () => {
  const dir = await tempDir('furiwake-ha-routes-');
  const binary = join(dir, 'keepalived');
  await writeFile(binary, `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" "$@"\n`);
  await chmod(binary, 0o755);
  const config = parseConfig(`ha: { interface: eth0, router-id: 9 }
services:
  www: { listen: "192.0.2.10:80", mode: http, pool: web, routes: [ { name: api, match: { path-prefix: /api/ }, pool: api } ] }
pools:
  web: { members: [ { address: "10.1.0.1:80", id: a } ] }
  api: { members: [ { address: "10.1.0.2:80", id: b } ] }
`, 'test.yaml', {});
  const runtime = new Runtime();
  runtime.apply(config);
  const supervisor = new KeepalivedSupervisor(config, runtime, createLogger('silent'), { binary, stateDir: dir });
  await supervisor.start();
  after(async () => {
    await supervisor.stop();
    runtime.close();
  });
  runtime.member('web', 'a')!.setHealth('down', 'test');
  assert.equal(supervisor.status().unfit, null, 'the api pool still serves the VIP');
  runtime.member('api', 'b')!.setHealth('down', 'test');
  assert.equal(supervisor.status().unfit, 'no usable member in pools web, api');
});

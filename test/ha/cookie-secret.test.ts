// With an ha pair, cookie persistence must be signed by a secret both nodes share: furiwake
// validate refuses a cookie service without one, naming the path; with a secret it is valid.

import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../helpers/files.ts';
import { furiwake } from '../helpers/process.ts';

function config(persistence: string): string {
  return [
    'ha:',
    '  interface: lo',
    '  router-id: 51',
    '  vips: [ 192.0.2.10 ]',
    '  sync: { listen: 127.0.0.1:7400, peers: [ 127.0.0.2:7400 ], key: a-shared-key-of-32-characters-ok }',
    'services:',
    '  www:',
    '    listen: 127.0.0.1:8080',
    '    mode: http',
    '    pool: web',
    `    persistence: ${persistence}`,
    'pools:',
    '  web:',
    '    members: [ { address: 127.0.0.1:9001 } ]',
    '',
  ].join('\n');
}

describe('cookie persistence under ha', () => {
  it('validate refuses a cookie without a shared secret, naming the path; with one it is valid', async () => {
    const dir = await tempDir('furiwake-ha-cookie-');
    after(() => rm(dir, { recursive: true, force: true }));
    const without = path.join(dir, 'without.yaml');
    await writeFile(without, config('{ method: cookie, cookie: FWSRV }'));
    const refused = furiwake(['validate', '-c', without]);
    assert.equal(await refused.exit(), 1);
    assert.match(refused.stderr, /without\.yaml:\d+: services\.www\.persistence\.secret: with ha configured, cookie persistence needs a secret/);
    // and says what to write
    assert.match(refused.stderr, /add secret: \$\{FURIWAKE_COOKIE_SECRET\}, 16 characters or more, the same on every node\n/);
    const withSecret = path.join(dir, 'with.yaml');
    await writeFile(withSecret, config('{ method: cookie, cookie: FWSRV, secret: a-cookie-secret-of-32-characters }'));
    const valid = furiwake(['validate', '-c', withSecret]);
    assert.equal(await valid.exit(), 0, valid.stderr);
  });
});

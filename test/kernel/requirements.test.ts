// What `validate` and `start` say on a host that cannot run nat or dsr services (no nft, no
// CAP_NET_ADMIN, no such interface), and that a config without them never needs nft. The
// commands run in a namespace of their own, as root with CAP_NET_ADMIN taken away where the
// test needs it (setpriv), or with a PATH where nft is not.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exec } from '../../src/kernel/exec.ts';

const BIN = fileURLToPath(new URL('../../bin/furiwake.js', import.meta.url));
const NAT = 'services:\n  www: { listen: 10.88.9.100:80, mode: nat, pool: web }\npools:\n  web:\n    algorithm: least-connections\n    members: [ { address: 10.88.9.1:80 } ]\n';
const TCP = 'services:\n  www: { listen: 127.0.0.1:0, mode: tcp, pool: web }\npools:\n  web: { members: [ { address: 127.0.0.1:9 } ] }\n';
/** A PATH with node's directory and the usual ones, but not where nft is. */
const NO_NFT = `${dirname(process.execPath)}:/nonexistent`;

interface Outcome { code: number | null; stdout: string; stderr: string }

describe('requirements of the kernel modes', () => {
  const ns = `fw-${randomBytes(3).toString('hex')}-v`;
  let dir: string;

  before(async () => {
    await exec('ip', ['netns', 'add', ns]);
    await exec('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    dir = await mkdtemp(join(tmpdir(), 'furiwake-req-'));
  });
  after(async () => {
    await exec('ip', ['netns', 'delete', ns]);
    await rm(dir, { recursive: true, force: true });
  });

  /** furiwake COMMAND -c (a file with `config`), in the namespace; `start` is stopped once it runs. */
  async function furiwake(command: 'validate' | 'start', config: string, opts: { path?: string; noNetAdmin?: boolean } = {}): Promise<Outcome> {
    const file = join(dir, `${randomBytes(4).toString('hex')}.yaml`);
    await writeFile(file, config);
    const prefix = opts.noNetAdmin === true ? ['setpriv', '--bounding-set=-net_admin', '--inh-caps=-net_admin', '--'] : [];
    const child = spawn('ip', ['netns', 'exec', ns, ...prefix, 'env', `PATH=${opts.path ?? process.env.PATH}`, process.execPath, BIN, command, '-c', file]);
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      // a start that succeeded: stop it (once: a second SIGTERM would end it at once)
      if (!signalled && stdout.includes('"furiwake started"')) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const [code] = await once(child, 'close') as [number | null];
    return { code, stdout, stderr };
  }

  test('validate: nft not on PATH', async () => {
    const { code, stderr } = await furiwake('validate', NAT, { path: NO_NFT });
    assert.equal(code, 1);
    assert.match(stderr, /cannot run here: nft not found on PATH: install nftables \(Debian: apt-get install nftables\); nat and dsr services are nftables rules/);
  });

  test('start: nft not on PATH', async () => {
    const { code, stdout } = await furiwake('start', NAT, { path: NO_NFT });
    assert.equal(code, 1);
    assert.match(stdout, /"msg":"cannot start"/);
    assert.match(stdout, /service www: cannot listen on 10\.88\.9\.100:80: nft not found on PATH: install nftables/);
  });

  test('validate and start without CAP_NET_ADMIN', async () => {
    const validate = await furiwake('validate', NAT, { noNetAdmin: true });
    assert.equal(validate.code, 1);
    assert.match(validate.stderr, /cannot run here: nat and dsr services change the kernel's ruleset: they need root or CAP_NET_ADMIN, which this process \(uid 0\) does not have/);
    const start = await furiwake('start', NAT, { noNetAdmin: true });
    assert.equal(start.code, 1);
    assert.match(start.stdout, /need root or CAP_NET_ADMIN/);
  });

  test('validate: a dsr interface that is not there', async () => {
    const { code, stderr } = await furiwake('validate', NAT.replace('mode: nat', 'mode: dsr, interface: eth9').replace('10.88.9.1:80', '10.88.9.1:80'));
    assert.equal(code, 1);
    assert.match(stderr, /cannot run here: services\.www\.interface: there is no interface eth9 on this host/);
  });

  test('validate on a capable host: nft accepts the ruleset; the algorithm fallback is a warning', async () => {
    const { code, stdout, stderr } = await furiwake('validate', NAT);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /valid \(1 service, 1 pool\)/);
    assert.match(stderr, /warning: pools\.web\.algorithm: least-connections runs as round-robin: nftables does not count connections per member/);
    // check mode changed nothing
    assert.equal((await exec('ip', ['netns', 'exec', ns, 'nft', 'list', 'ruleset'])).stdout, '');
  });

  test('validate: passive-health set on the pool of a dsr service is a warning: nothing can be counted', async () => {
    const dsr = NAT.replace('mode: nat', 'mode: dsr, interface: lo').replace('algorithm: least-connections', 'algorithm: round-robin');
    const quiet = await furiwake('validate', dsr);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /passive-health/);
    const set = await furiwake('validate', dsr.replace('algorithm: round-robin', 'algorithm: round-robin\n    passive-health: { failures: 3 }'));
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stderr, /warning: pools\.web\.passive-health: has no effect for services\.www \(dsr\): the balancer never sees the members' replies, so it cannot count their failures/);
  });

  test('a config without nat or dsr never needs nft, nor CAP_NET_ADMIN', async () => {
    const validate = await furiwake('validate', TCP, { path: NO_NFT, noNetAdmin: true });
    assert.equal(validate.code, 0, validate.stderr);
    assert.equal(validate.stderr, '');
    const start = await furiwake('start', TCP, { path: NO_NFT, noNetAdmin: true });
    assert.equal(start.code, 0, start.stdout);
    assert.match(start.stdout, /"msg":"furiwake started"/);
  });
});

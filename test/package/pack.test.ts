// furiwake as a user installs it: `npm pack` (its prepack builds dist/), the tarball installed into
// an empty project, and the installed command run by Node 24 — version, validate, demo, a config
// with worker threads, the message when raw-socket's native part was not built, and the systemd
// unit it prints. The sources stay TypeScript for development; what is installed is JavaScript,
// because Node strips no types inside node_modules.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { tempDir } from '../helpers/files.ts';
import { furiwake } from '../helpers/process.ts';
import { startTcpServer } from '../helpers/servers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** npm as the user has it (the one that runs `npm install` and `npm test`), on Node 24 */
const NPM = 'npm';
/** Node 24 first on PATH, as on a user's machine: npm's scripts and `#!/usr/bin/env node` find it. */
const PATH = `${path.dirname(process.execPath)}:${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`;
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function run(file: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: { ...process.env, PATH }, timeout: 240_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('the packed package, installed', { timeout: 600_000 }, () => {
  let project = '';
  let installed = '';
  let bin = '';
  let files: string[] = [];

  before(async () => {
    const dir = await tempDir('pack');
    const packed = await run(NPM, ['pack', '--pack-destination', dir, '--json'], ROOT);
    assert.equal(packed.code, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    files = info.files.map((f) => f.path);
    project = path.join(dir, 'project');
    await mkdir(project);
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'a-user-project', private: true }));
    const install = await run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, info.filename)], project);
    assert.equal(install.code, 0, install.stderr);
    installed = path.join(project, 'node_modules/furiwake');
    bin = path.join(installed, 'bin/furiwake.js');
  });

  it('holds what a user needs and nothing else: JavaScript, no sources, tests or benches', () => {
    assert.ok(files.includes('bin/furiwake.js') && files.includes('dist/cli/main.js') && files.includes('dist/workers/worker-main.js'), files.join(' '));
    assert.ok(files.includes('dist/admin/static/index.html'), 'the dashboard');
    assert.ok(files.some((f) => f.startsWith('examples/')) && files.includes('README.md'));
    const stray = files.filter((f) => /^(src|test|bench|scripts|artifacts)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
    assert.deepEqual(stray, []);
    assert.ok(!existsSync(path.join(installed, 'src')), 'no TypeScript sources installed');
  });

  it('npx furiwake --version and validate run from the installed package', async () => {
    const version = await run(NPM, ['exec', '--', 'furiwake', '--version'], project);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `furiwake ${VERSION}\n`);
    const valid = await run(NPM, ['exec', '--', 'furiwake', 'validate', '-c', path.join(installed, 'examples/tcp-basic.yaml')], project);
    assert.equal(valid.code, 0, valid.stderr);
    assert.match(valid.stdout, /valid \(1 service, 1 pool\)/);
  });

  it('furiwake demo answers on its ports: the tcp service and the dashboard', async () => {
    const demo = furiwake(['demo', '--port', '0'], { bin });
    await demo.line((l) => l === 'Stop with Ctrl-C.');
    const web = /tcp service web +(127\.0\.0\.1:\d+)/.exec(demo.stdout)![1];
    const dashboard = /dashboard +(http:\/\/127\.0\.0\.1:\d+\/)/.exec(demo.stdout)![1];
    assert.match((await get(`http://${web}/`)).body, /^hello from web-\d/);
    const page = await get(dashboard);
    assert.equal(page.status, 200);
    assert.match(page.body, /<html/i);
    demo.child.kill('SIGTERM');
    assert.equal(await demo.exit(), 0);
  });

  it('runs a config with worker threads (their entry is built JavaScript too)', async () => {
    const server = await startTcpServer('m', (socket) => socket.end('from the member\n'));
    const dir = await tempDir('pack-workers');
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, `global: { workers: 2 }\nservices:\n  s: { listen: "127.0.0.1:0", mode: tcp, pool: p }\npools:\n  p: { members: [ { address: "127.0.0.1:${server.port}" } ] }\n`);
    const start = furiwake(['start', '-c', file], { bin });
    const listening = await start.event('service listening');
    assert.equal(listening.workers, 2);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(listening.port as number, '127.0.0.1');
      let text = '';
      socket.on('data', (d) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.equal(answer, 'from the member\n');
    start.child.kill('SIGTERM');
    assert.equal(await start.exit(), 0);
  });

  it('validate says how to build raw-socket when an icmp monitor needs it and npm skipped its install script', async () => {
    const dir = await tempDir('pack-icmp');
    const file = path.join(dir, 'icmp.yaml');
    await writeFile(file, 'services:\n  s: { listen: "127.0.0.1:0", mode: tcp, pool: p }\npools:\n  p:\n    members: [ { address: "127.0.0.1:9" } ]\n    health: { monitors: [ { type: icmp } ] }\n');
    const build = path.join(project, 'node_modules/raw-socket/build');
    // as npm leaves it when the install script was not allowed: the package without its compiled part
    if (existsSync(build)) await rename(build, `${build}.off`);
    try {
      const refused = await run(process.execPath, [bin, 'validate', '-c', file], project);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /cannot run here: icmp monitor needs the native part of the raw-socket package/);
      assert.match(refused.stderr, /npm install-scripts approve raw-socket && npm rebuild raw-socket/);
    } finally {
      if (existsSync(`${build}.off`)) await rename(`${build}.off`, build);
    }
  });

  it('prints a systemd unit that runs node on the installed entry; systemd-analyze accepts it', async (t) => {
    const dir = await tempDir('pack-unit');
    const file = path.join(dir, 'furiwake.yaml');
    await writeFile(file, 'services:\n  www: { listen: "0.0.0.0:80", mode: tcp, pool: p }\npools:\n  p: { members: [ { address: "127.0.0.1:8080" } ] }\n');
    const unit = await run(process.execPath, [bin, 'systemd-unit', '-c', file], project);
    assert.equal(unit.code, 0, unit.stderr);
    assert.ok(unit.stdout.includes(`\nExecStart=${process.execPath} ${bin} start -c ${file}\n`), unit.stdout);
    assert.match(unit.stdout, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    // port 80 without root: the one capability that needs, nothing more
    assert.match(unit.stdout, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    assert.match(unit.stdout, /^User=furiwake$/m);
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) {
      t.skip('systemd-analyze is not installed');
      return;
    }
    const service = path.join(dir, 'furiwake.service');
    await writeFile(service, unit.stdout);
    const verify = await run('systemd-analyze', ['verify', service], dir);
    assert.equal(verify.code, 0, verify.stderr);
    // its complaints about other units of the host are not ours
    assert.doesNotMatch(verify.stderr, /furiwake\.service/);
  });
});

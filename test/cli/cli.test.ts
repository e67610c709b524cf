// The command line, run as a real process: validate, start with SIGHUP reload and graceful
// SIGTERM. The demo has its own file (demo.test.ts).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { greeted, greeting } from '../helpers/clients.ts';
import { furiwake } from '../helpers/process.ts';
import { startTcpServer, type TcpServer } from '../helpers/servers.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'furiwake-cli-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

describe('furiwake command', () => {
  it('prints its version and help', async () => {
    const v = furiwake(['--version']);
    assert.equal(await v.exit(), 0);
    assert.match(v.stdout, /^furiwake \d+\.\d+\.\d+\n$/);
    const h = furiwake(['--help']);
    assert.equal(await h.exit(), 0);
    assert.match(h.stdout, /furiwake start -c FILE/);
    const bad = furiwake(['frobnicate']);
    assert.equal(await bad.exit(), 2);
    assert.match(bad.stderr, /unknown command frobnicate/);
  });

  it('a reader that closes the pipe early (`furiwake ctl --help | head -1`) ends the output, not in a stack trace', async () => {
    for (const args of [['ctl', '--help'], ['--help']]) {
      const run = furiwake(args);
      run.child.stdout!.destroy(); // long before the child has written anything: its write fails with EPIPE
      assert.equal(await run.exit(), 0, args.join(' '));
      assert.equal(run.stderr, '', args.join(' '));
    }
  });

  it('validate reports every error with its file, line and path', async () => {
    const bad = await file('bad.yaml', [
      'services:',
      '  www:',
      '    listen: 127.0.0.1:80',
      '    mode: tcp',
      '    pool: nowhere',
      'pools:',
      '  web:',
      '    algorithm: round-robin',
      '    members:',
      '      - { address: 127.0.0.1:8080 }',
      '      - { address: 10.0.0.2, weight: heavy }',
      '',
    ].join('\n'));
    const run = furiwake(['validate', '-c', bad]);
    assert.equal(await run.exit(), 1);
    assert.match(run.stderr, /bad\.yaml:5: services\.www\.pool: .*nowhere/);
    assert.match(run.stderr, /bad\.yaml:11: pools\.web\.members\[1\]\.address: /);
    assert.match(run.stderr, /bad\.yaml:11: pools\.web\.members\[1\]\.weight: /);
  });

  it('validate warns when the admin API lets anyone read (read-token-required: false off loopback) or write (no token)', async () => {
    const body = 'services:\n  svc: { listen: 127.0.0.1:0, mode: tcp, pool: p }\npools:\n  p: { members: [ { address: 127.0.0.1:9 } ] }\n';
    const open = await file('open-reads.yaml', `admin: { listen: 0.0.0.0:9443, token: a-token-of-twenty-chars, read-token-required: false }\n${body}`);
    const run = furiwake(['validate', '-c', open]);
    assert.equal(await run.exit(), 0);
    assert.equal(run.stderr, `${open}: warning: admin API on 0.0.0.0:9443 with read-token-required: false: anyone who can connect to it can read pools, members and live connections\n`);
    const guarded = furiwake(['validate', '-c', await file('guarded.yaml', `admin: { listen: 0.0.0.0:9443, token: a-token-of-twenty-chars }\n${body}`)]);
    assert.equal(await guarded.exit(), 0);
    assert.equal(guarded.stderr, '');
    const noToken = furiwake(['validate', '-c', await file('no-token.yaml', `admin: { listen: 127.0.0.1:9090 }\n${body}`)]);
    assert.equal(await noToken.exit(), 0);
    assert.match(noToken.stderr, /warning: admin API without a token: anyone who can connect to it can drain/);
  });

  it('start serves, reloads on SIGHUP without dropping live connections, and stops gracefully', async () => {
    const echo = (name: string) => (socket: net.Socket) => {
      socket.write(`${name}\n`);
      socket.on('data', (d: Buffer) => socket.write(`${name}:${d}`));
      socket.on('end', () => socket.end());
    };
    const a: TcpServer = await startTcpServer('a', echo('a'));
    const b: TcpServer = await startTcpServer('b', echo('b'));
    after(() => Promise.all([a.close(), b.close()]));
    const config = (port: number, extra = '') => `global: { shutdown-grace: 30s, log-level: info }
services:
  svc: { listen: 127.0.0.1:0, mode: tcp, pool: p }
pools:
  p:
    members: [ { address: 127.0.0.1:${port} } ]
${extra}`;
    const cfg = await file('live.yaml', config(a.port));
    const run = furiwake(['start', '-c', cfg]);
    const port = (await run.event('service listening')).port as number;

    const live = await greeted(port);
    assert.equal(live.line, 'a');

    await writeFile(cfg, config(b.port));
    run.child.kill('SIGHUP');
    await run.event('config applied', 2);
    assert.equal(await greeting(port), 'b');
    // the connection opened before the reload still talks to a
    live.socket.resume();
    live.socket.setEncoding('utf8');
    const reply = once(live.socket, 'data');
    live.socket.write('still there?');
    assert.equal(String((await reply)[0]), 'a:still there?');

    // an invalid file keeps the running config
    await writeFile(cfg, config(b.port, 'bogus: true\n'));
    run.child.kill('SIGHUP');
    const failed = await run.event('reload failed; the running config stays');
    assert.match(String(failed.reason), /bogus/);
    assert.equal(await greeting(port), 'b');

    // SIGTERM: no new connections, the live one may finish, then the process exits 0
    run.child.kill('SIGTERM');
    await run.event('waiting for live connections');
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      s.on('connect', () => resolve('connected'));
    });
    assert.equal(refused, 'ECONNREFUSED');
    live.socket.end();
    assert.equal(await run.exit(), 0);
  });

  it('survives a SIGHUP sent while it is starting (a reload racing the start)', async () => {
    const { run, port } = await startOneService('early-hup.yaml');
    run.child.kill('SIGHUP'); // before 'furiwake started': the reload handler may not be in yet
    await run.event('furiwake started');
    assert.equal(await greeting(port), 'a');
    assert.equal(run.child.exitCode, null);
    run.child.kill('SIGTERM');
    assert.equal(await run.exit(), 0);
  });

  it('goes on serving when whatever reads its log goes away (EPIPE on stdout)', async () => {
    const { run, port } = await startOneService('epipe.yaml');
    await run.event('furiwake started'); // its signal handlers are in place
    // the reader of its log (a pipe to `head`, a crashed log shipper) closes; every next line is EPIPE
    run.child.stdout!.destroy();
    run.child.kill('SIGHUP'); // a reload logs: the write fails
    assert.equal(await greeting(port), 'a');
    run.child.kill('SIGHUP');
    assert.equal(await greeting(port), 'a');
    assert.equal(run.child.exitCode, null, run.stderr);
    run.child.kill('SIGTERM');
    assert.equal(await run.exit(), 0);
  });
});


/** `furiwake start` on a file `name` with one tcp service in front of a member greeting `a`; resolves once it listens. */
async function startOneService(name: string): Promise<{ run: ReturnType<typeof furiwake>; port: number }> {
  const a = await startTcpServer('a');
  after(() => a.close());
  const cfg = await file(name, `global: { log-level: info }
services:
  svc: { listen: 127.0.0.1:0, mode: tcp, pool: p }
pools:
  p:
    members: [ { address: 127.0.0.1:${a.port} } ]
`);
  const run = furiwake(['start', '-c', cfg]);
  return { run, port: (await run.event('service listening')).port as number };
}

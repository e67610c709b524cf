// `furiwake demo` as a new user meets it: the real process, and every command it prints run as
// printed (through sh, from the project directory, with npx), so the text cannot drift from
// what works. Then the rest of what it promises: the stick table fills, a member made to fail
// goes down and comes back, the cookie of the http service keeps a client on its member.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { furiwake } from '../helpers/process.ts';
import { completeResponse, connection } from '../proxy/http/helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The Node that runs the tests first on PATH: `node -e` and npx's `#!/usr/bin/env node` find it. */
const PATH = `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`;

/** Runs one printed line as a person pasting it would. */
function sh(line: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', line], { cwd: ROOT, env: { ...process.env, PATH }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe('furiwake demo', () => {
  it('prints commands that work as printed: flows kept by a stick table, a member failing and coming back', async () => {
    const run = furiwake(['demo', '--port', '0']);
    await run.line((l) => l === 'Stop with Ctrl-C.');
    const commands = run.stdout.split('\n').filter((l) => /^ {4}(node|npx) /.test(l)).map((l) => l.trim());
    assert.ok(commands.every((c) => !/\b(curl|nc)\b/.test(c) && !/^furiwake /.test(c)), 'only node and npx furiwake');
    const [udp, stick, tcp, members, fail, drain, enable, connections] = commands;
    assert.equal(commands.length, 8, commands.join('\n'));

    // three clients, two flows each: every client's flows reach one member
    const flows = await sh(udp);
    assert.equal(flows.code, 0, flows.stderr);
    const answers = flows.stdout.trim().split('\n').map((l) => /^(127\.0\.0\.\d) <- (echo-\d): hello$/.exec(l)!);
    assert.equal(answers.length, 6, flows.stdout);
    const memberOf = new Map<string, string>();
    for (const [, client, member] of answers) {
      assert.equal(memberOf.get(client) ?? member, member, `${client} stays on one member`);
      memberOf.set(client, member);
    }
    assert.equal(memberOf.size, 3);

    // the stick table remembers each client's member
    const table = await sh(stick);
    assert.equal(table.code, 0, table.stderr);
    for (const [client, member] of memberOf) assert.match(table.stdout, new RegExp(`^${client.replaceAll('.', '\\.')}\\s+echo/${member}\\s`, 'm'));

    // the tcp service: eight new connections over three members, web-1 (weight 2) the most
    const web = await sh(tcp);
    const bodies = web.stdout.trim().split('\n');
    assert.equal(bodies.length, 8, web.stdout + web.stderr);
    assert.ok(bodies.every((b) => /^hello from web-\d \(you asked for GET \/\)$/.test(b)), web.stdout);
    const count = (name: string) => bodies.filter((b) => b.startsWith(`hello from ${name} `)).length;
    assert.ok(count('web-1') >= count('web-2') && count('web-1') >= count('web-3'), web.stdout);

    const listed = await sh(members);
    assert.equal(listed.code, 0, listed.stderr);
    for (const id of ['web-1', 'web-2', 'web-3', 'echo-1', 'echo-2']) assert.match(listed.stdout, new RegExp(`\\s${id}\\s`));

    // a member made to fail: its monitor takes it out, and brings it back once it passes again
    const failed = await sh(fail);
    assert.equal(failed.stdout, 'web-2 fails its health check for the next 10 s\n');
    const health = (to: string) => (l: string) => l.startsWith('{') && /"member":"web-2"/.test(l) && l.includes(`"to":"${to}"`) && l.includes('"msg":"member health changed"');
    await run.line(health('down'));
    await run.line(health('up'));

    assert.match((await sh(drain)).stdout, /^web\/web-1: drain, admin drain/);
    assert.match((await sh(enable)).stdout, /^web\/web-1: up, admin enabled/);
    // a udp flow shows the address it really uses on the balancer side, not 0.0.0.0; an http
    // client kept alive after its answer is between requests, not queued
    const shopPort = Number(/http service shop 127\.0\.0\.1:(\d+)/.exec(run.stdout)![1]);
    const keptAlive = await connection(shopPort);
    await keptAlive.send('GET / HTTP/1.1\r\nHost: demo\r\n\r\n', completeResponse);
    const live = await sh(connections);
    await keptAlive.close();
    assert.equal(live.code, 0, live.stderr);
    assert.match(live.stdout, /echo\s+127\.0\.0\.2:\d+\s+->\s+127\.0\.0\.1:\d+\s+=>\s+127\.0\.0\.1:\d+\s+->/);
    assert.match(live.stdout, new RegExp(`shop\\s+127\\.0\\.0\\.1:\\d+\\s+HTTP\\/1\\.1\\s+->\\s+127\\.0\\.0\\.1:${shopPort}\\s+=>\\s+\\S+\\s+->\\s+\\(between requests\\)`));

    // the http service: its cookie keeps a client on the member that served it first
    const first = await getWithCookie(shopPort, null);
    assert.match(first.cookie ?? '', /^FWSRV=/);
    for (let i = 0; i < 3; i++) assert.equal((await getWithCookie(shopPort, first.cookie)).body, first.body);

    run.child.kill('SIGTERM');
    assert.equal(await run.exit(), 0);
    // nothing at start said a member changed: they start as the config says
    assert.ok(!/"from":"up","to":"checking"/.test(run.stdout));
  });
});

/** GET / with `cookie` (or none); the body, and the cookie set in the answer (name=value) if any. */
function getWithCookie(port: number, cookie: string | null): Promise<{ body: string; cookie: string | null }> {
  return new Promise((resolve, reject) => {
    const headers = cookie === null ? {} : { cookie };
    http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers }, (res) => {
      let body = '';
      const set = res.headers['set-cookie']?.[0]?.split(';')[0] ?? null;
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ body, cookie: set }));
    }).on('error', reject);
  });
}

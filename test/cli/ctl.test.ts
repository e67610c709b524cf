// `furiwake ctl` against a running balancer: both are real processes (the bin), the balancer
// started from a config file with an admin section; ctl's writes are checked on the data plane.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { greeted, greeting } from '../helpers/clients.ts';
import { furiwake, startedWithAdmin } from '../helpers/process.ts';
import { tempDir } from '../helpers/files.ts';
import { freePort } from '../helpers/ports.ts';
import { startTcpServer } from '../helpers/servers.ts';

const TOKEN = 'ctl-test-token-0123456789';

function configText(a: number, b: number, weightB = 1): string {
  return [
    'global: { shutdown-grace: 0s, log-level: info }',
    `admin: { listen: 127.0.0.1:0, token: ${TOKEN} }`,
    'services:',
    '  www: { listen: 127.0.0.1:0, mode: tcp, pool: web }',
    '  sticky: { listen: 127.0.0.1:0, mode: tcp, pool: web, persistence: { method: source-ip, timeout: 10m } }',
    'pools:',
    '  web:',
    '    members:',
    `      - { address: 127.0.0.1:${a}, id: a }`,
    `      - { address: 127.0.0.1:${b}, id: b, weight: ${weightB} }`,
    '',
  ].join('\n');
}

/** Runs `furiwake ctl ...` to its end. */
async function ctl(admin: string, args: string[], token: string | null = TOKEN) {
  const run = furiwake(['ctl', '--admin', admin, ...(token === null ? [] : ['--token', token]), ...args]);
  const code = await run.exit();
  return { code, stdout: run.stdout, stderr: run.stderr };
}

// The balancer is started in the suite's body, not in a before hook: the process helper ties the
// child to the after hook of where it is started.
describe('furiwake ctl', async () => {
  const a = await startTcpServer('a');
  const b = await startTcpServer('b');
  const dir = await tempDir('ctl');
  const file = path.join(dir, 'furiwake.yaml');
  await writeFile(file, configText(a.port, b.port));
  const { run: lb, admin } = await startedWithAdmin(file);
  const vip = (await lb.event('service listening')).port as number;
  const stickyVip = (await lb.event('service listening', 2)).port as number;

  it('status: version, counts and the services with their VIPs', async () => {
    const { code, stdout, stderr } = await ctl(admin, ['status'], null);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^furiwake \d+\.\d+\.\d+ {2}pid \d+ {2}up \d+s\n/);
    assert.match(stdout, /members 2\/2 usable {2}connections 0 {2}reads open, writes token/);
    assert.match(stdout, /SERVICE\s+MODE\s+VIP\s+POOL\s+ACTIVE\s+TOTAL\s+NEW\/S\s+REQUESTS\s+REQ\/S\s+DROPPED\n/);
    assert.match(stdout, new RegExp(`www\\s+tcp\\s+127\\.0\\.0\\.1:${vip}\\s+web\\s+0\\s+0\\s+0\\.00\\s+-\\s+-\\s+-\n`));
    const json = await ctl(admin, ['status', '--json'], null);
    assert.equal(JSON.parse(json.stdout).status.members.total, 2);
  });

  it('members: a table, or the pool as JSON', async () => {
    const { code, stdout } = await ctl(admin, ['members']);
    assert.equal(code, 0);
    const lines = stdout.trimEnd().split('\n');
    assert.match(lines[0], /^POOL\s+MEMBER\s+ADDRESS\s+STATE\s+HEALTH\s+AGENT\s+WEIGHT\s+ACTIVE\s+TOTAL\s+NEW\/S$/);
    assert.match(lines[1], new RegExp(`^web\\s+a\\s+127\\.0\\.0\\.1:${a.port}\\s+up\\s+-\\s+-\\s+1\\s+0\\s+0\\s+0\\.00$`));
    const json = JSON.parse((await ctl(admin, ['members', 'web', '--json'])).stdout);
    assert.deepEqual(json.members.map((m: { id: string }) => m.id), ['a', 'b']);
  });

  it('drain and enable: checked on the data plane', async () => {
    const drained = await ctl(admin, ['drain', 'web', 'a']);
    assert.equal(drained.code, 0, drained.stderr);
    assert.equal(drained.stdout, 'web/a: drain, admin drain, weight 1, 0 active connections\n');
    const before = a.accepted;
    assert.deepEqual([await greeting(vip), await greeting(vip), await greeting(vip)], ['b', 'b', 'b']);
    assert.equal(a.accepted, before);
    const enabled = await ctl(admin, ['enable', 'web', 'a']);
    assert.equal(enabled.stdout, 'web/a: up, admin enabled, weight 1, 0 active connections\n');
    // round-robin runs in each worker thread: a few connections reach both members again
    const after = await Promise.all(Array.from({ length: 8 }, () => greeting(vip)));
    assert.deepEqual([...new Set(after)].sort(), ['a', 'b']);
  });

  it('weight: set, or the API says why not', async () => {
    const set = await ctl(admin, ['weight', 'web', 'b', '3']);
    assert.equal(set.stdout, 'web/b: up, admin enabled, weight 3, 0 active connections\n');
    const bad = await ctl(admin, ['weight', 'web', 'b', 'heavy']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'furiwake ctl weight: 400: invalid body: weight: expected a whole number from 0 to 256\n');
    const tooMuch = await ctl(admin, ['weight', 'web', 'b', '999']);
    assert.match(tooMuch.stderr, /400: invalid body: weight: expected a whole number from 0 to 256/);
    assert.equal((await ctl(admin, ['weight', 'web', 'b', '1'])).code, 0);
  });

  it('says what is wrong: no such member, no token, a wrong token, no API there, bad usage', async () => {
    const missing = await ctl(admin, ['disable', 'web', 'zz']);
    assert.deepEqual([missing.code, missing.stderr], [1, 'furiwake ctl disable: 404: pool web has no member "zz"; its members are: a, b\n']);
    const noToken = await ctl(admin, ['disable', 'web', 'a'], null);
    assert.equal(noToken.code, 1);
    assert.equal(noToken.stderr, 'furiwake ctl disable: 401: writes need the admin token: send Authorization: Bearer <admin.token>\n' +
      'Give the token with FURIWAKE_ADMIN_TOKEN (or --token).\n');
    const wrong = await ctl(admin, ['disable', 'web', 'a'], 'not-the-token-0123456789');
    assert.match(wrong.stderr, /401: the admin token is wrong\nCheck the token with FURIWAKE_ADMIN_TOKEN/);
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await ctl(nowhere, ['status']);
    assert.equal(unreachable.code, 1);
    assert.equal(unreachable.stderr, `furiwake ctl status: cannot reach the admin API at ${nowhere}: connection refused\n` +
      'Is furiwake running with an admin section? Point to it with --admin URL or FURIWAKE_ADMIN.\n');
    const usage = await ctl(admin, ['weight', 'web']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^furiwake ctl weight: expected POOL MEMBER N, got web\n/);
  });

  it('takes the address (http:// may be left out) and token from FURIWAKE_ADMIN and FURIWAKE_ADMIN_TOKEN', async () => {
    const saved = { admin: process.env.FURIWAKE_ADMIN, token: process.env.FURIWAKE_ADMIN_TOKEN };
    process.env.FURIWAKE_ADMIN = admin.replace('http://', '');
    process.env.FURIWAKE_ADMIN_TOKEN = TOKEN;
    const run = furiwake(['ctl', 'disable', 'web', 'b']); // the child takes the environment as it is now
    if (saved.admin === undefined) delete process.env.FURIWAKE_ADMIN;
    else process.env.FURIWAKE_ADMIN = saved.admin;
    if (saved.token === undefined) delete process.env.FURIWAKE_ADMIN_TOKEN;
    else process.env.FURIWAKE_ADMIN_TOKEN = saved.token;
    assert.equal(await run.exit(), 0, run.stderr);
    assert.match(run.stdout, /^web\/b: disabled, admin disabled/);
    assert.equal((await ctl(admin, ['enable', 'web', 'b'])).code, 0);
  });

  it('connections: client -> VIP => balancer -> member, by service', async () => {
    const live = await greeted(vip);
    const { code, stdout } = await ctl(admin, ['connections', '--service', 'www']);
    assert.equal(code, 0);
    const row = stdout.split('\n').find((l) => l.includes(`127.0.0.1:${live.socket.localPort}`));
    assert.ok(row !== undefined, stdout);
    assert.match(row, new RegExp(`www\\s+127\\.0\\.0\\.1:${live.socket.localPort}\\s+->\\s+127\\.0\\.0\\.1:${vip}\\s+=>\\s+127\\.0\\.0\\.1:\\d+\\s+->\\s+127\\.0\\.0\\.1:\\d+ web/${live.line}`));
    assert.equal((await ctl(admin, ['connections', '--service', 'other'])).stdout.trimEnd().split('\n').length, 1, 'only the header');
    live.socket.destroy();
    await once(live.socket, 'close');
  });

  it("stick: the tables, a service's entries by key, forgetting one", async () => {
    const member = await greeting(stickyVip);
    assert.equal(await greeting(stickyVip), member, 'the client sticks');
    const tables = await ctl(admin, ['stick']);
    assert.equal(tables.code, 0, tables.stderr);
    const row = /^SERVICE\s+METHOD\s+ENTRIES\s+MAX\s+HITS\s+MISSES\s+EXPIRED\s+EVICTED\nsticky\s+source-ip\s+1\s+100000\s+(\d+)\s+(\d+)\s+0\s+0\n$/.exec(tables.stdout);
    assert.ok(row !== null, tables.stdout);
    // two lookups: a miss, then a hit — or, with worker threads, a second miss on the worker
    // that had not yet heard of the entry (it chooses the same member from the address)
    assert.equal(Number(row[1]) + Number(row[2]), 2, tables.stdout);
    const entries = await ctl(admin, ['stick', 'sticky', '--key', '127.0.0']);
    assert.match(entries.stdout, new RegExp(`^KEY\\s+MEMBER\\s+EXPIRES IN\\n127\\.0\\.0\\.1\\s+web/${member}\\s+\\d+m\\d\\ds\\n$`));
    const forgotten = await ctl(admin, ['stick', 'sticky', '--key', '127.0.0.1', '--delete']);
    assert.deepEqual([forgotten.code, forgotten.stdout], [0, 'sticky: 1 entry forgotten\n']);
    assert.equal(JSON.parse((await ctl(admin, ['stick', 'sticky', '--json'])).stdout).total, 0);
    const none = await ctl(admin, ['stick', 'www', '--key', '10.0.0.1', '--delete']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /404: service www has no stick table .*; services with one: sticky/);
  });

  it('stick --delete: one key with --key, the whole table only with --all', async () => {
    await greeting(stickyVip);
    const unsaid = await ctl(admin, ['stick', 'sticky', '--delete']);
    assert.deepEqual([unsaid.code, unsaid.stderr], [2, "furiwake ctl stick: --delete forgets one client with --key K; to forget every entry of sticky's table, add --all\n"]);
    assert.equal(JSON.parse((await ctl(admin, ['stick', 'sticky', '--json'])).stdout).total, 1, 'nothing was forgotten');
    const both = await ctl(admin, ['stick', 'sticky', '--delete', '--all', '--key', '127.0.0.1']);
    assert.equal(both.code, 2);
    const all = await ctl(admin, ['stick', 'sticky', '--delete', '--all']);
    assert.deepEqual([all.code, all.stdout], [0, 'sticky: 1 entry forgotten\n']);
    assert.equal(JSON.parse((await ctl(admin, ['stick', 'sticky', '--json'])).stdout).total, 0);
  });

  it('shutdown: one connection by id, those of a member, of a service; the client sees the reset', async () => {
    const ended = (socket: net.Socket) => new Promise<string>((resolve) => {
      let how = 'close';
      socket.on('error', (err: NodeJS.ErrnoException) => (how = err.code ?? 'error')).resume();
      socket.once('close', () => resolve(how));
    });
    const idOf = async (socket: net.Socket): Promise<number> => {
      const page = JSON.parse((await ctl(admin, ['connections', '--service', 'www', '--json'])).stdout);
      return page.items.find((c: { client: { port: number } }) => c.client.port === socket.localPort).id;
    };
    const one = await greeted(vip);
    const oneEnd = ended(one.socket);
    const byId = await ctl(admin, ['shutdown', String(await idOf(one.socket))]);
    assert.deepEqual([byId.code, byId.stdout], [0, '1 connection ended\n'], byId.stderr);
    assert.equal(await oneEnd, 'ECONNRESET');
    const gone = await ctl(admin, ['shutdown', '999999']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^furiwake ctl shutdown: 404: no connection 999999/);

    // one client on each member (round-robin runs in each worker thread: connect until both are held)
    const clients: Awaited<ReturnType<typeof greeted>>[] = [];
    const surplus: net.Socket[] = [];
    while (clients.length < 2) {
      const c = await greeted(vip);
      if (clients.some((held) => held.line === c.line)) surplus.push(c.socket);
      else clients.push(c);
    }
    for (const s of surplus) s.destroy();
    while (JSON.parse((await ctl(admin, ['connections', '--service', 'www', '--json'])).stdout).total !== 2);
    const ends = clients.map((c) => ended(c.socket));
    const onA = clients.findIndex((c) => c.line === 'a');
    assert.notEqual(onA, -1);
    const ofA = await ctl(admin, ['shutdown', '--member', 'web/a']);
    assert.deepEqual([ofA.code, ofA.stdout], [0, '1 connection ended\n'], ofA.stderr);
    assert.equal(await ends[onA], 'ECONNRESET');
    const ofWww = await ctl(admin, ['shutdown', '--service', 'www', '--json']);
    assert.deepEqual([ofWww.code, JSON.parse(ofWww.stdout)], [0, { ended: 1, kernel: 0 }]);
    assert.equal(await ends[1 - onA], 'ECONNRESET');
  });

  it('shutdown: never everything by accident; bad usage and no token are refused', async () => {
    const nothing = await ctl(admin, ['shutdown']);
    assert.deepEqual([nothing.code, nothing.stderr], [2, 'furiwake ctl shutdown: which connections? Give an ID (from ctl connections), --service S, --pool P or --member POOL/MEMBER; nothing ends them all at once\n']);
    const half = await ctl(admin, ['shutdown', '--member', 'a']);
    assert.deepEqual([half.code, half.stderr], [2, 'furiwake ctl shutdown: --member expects POOL/MEMBER (as ctl members shows them), got a\n']);
    const both = await ctl(admin, ['shutdown', '3', '--service', 'www']);
    assert.equal(both.code, 2);
    const noToken = await ctl(admin, ['shutdown', '--service', 'www'], null);
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /401: writes need the admin token/);
    const unknown = await ctl(admin, ['shutdown', '--member', 'web/zz']);
    assert.deepEqual([unknown.code, unknown.stderr], [1, 'furiwake ctl shutdown: 404: pool web has no member "zz"; its members are: a, b\n']);
  });

  it('ha: says the node is not part of a pair without an ha section; --handover with --take-back is refused', async () => {
    const none = await ctl(admin, ['ha']);
    assert.deepEqual([none.code, none.stderr], [1, 'furiwake ctl ha: 404: this furiwake is not part of a pair (its config has no ha section)\n']);
    const both = await ctl(admin, ['ha', '--handover', '--take-back']);
    assert.deepEqual([both.code, both.stderr], [2, 'furiwake ctl ha: give --handover or --take-back, not both\n']);
  });

  it('reload: applies the changed file; a refused file is reported line by line and changes nothing', async () => {
    await writeFile(file, configText(a.port, b.port, 4));
    const done = await ctl(admin, ['reload']);
    assert.deepEqual([done.code, done.stdout], [0, 'reloaded: pool web changed: member b changed\n']);
    const members = JSON.parse((await ctl(admin, ['members', 'web', '--json'])).stdout);
    assert.equal(members.members[1].weight, 4);
    await writeFile(file, configText(a.port, b.port, 4).replace('mode: tcp', 'mode: tcpp'));
    const refused = await ctl(admin, ['reload']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^furiwake ctl reload: 422: the config file was refused; the running config stays\n {2}.*furiwake\.yaml:4: services\.www\.mode: expected tcp/);
    assert.equal(JSON.parse((await ctl(admin, ['members', 'web', '--json'])).stdout).members[1].weight, 4);
  });
});

describe('furiwake ctl connections --show-query', async () => {
  // an http member that reads a request and holds its answer; a client whose request stays live
  const held: net.Socket[] = [];
  const member = net.createServer((socket) => {
    held.push(socket);
    socket.on('error', () => {});
    socket.resume();
  });
  member.listen(0, '127.0.0.1');
  await once(member, 'listening');
  const cfgDir = await tempDir('ctl-query');
  const cfg = path.join(cfgDir, 'furiwake.yaml');
  await writeFile(cfg, [
    'global: { shutdown-grace: 0s, log-level: info }',
    `admin: { listen: 127.0.0.1:0, token: ${TOKEN} }`,
    'services:',
    '  web: { listen: 127.0.0.1:0, mode: http, pool: p }',
    'pools:',
    `  p: { members: [ { address: 127.0.0.1:${(member.address() as net.AddressInfo).port} } ] }`,
    '',
  ].join('\n'));
  const lb = furiwake(['start', '-c', cfg]);
  const client = new net.Socket();
  // one place that ends everything, in order, whatever the test did
  after(async () => {
    client.destroy();
    for (const s of held) s.destroy();
    member.close();
    lb.child.kill('SIGKILL');
    await lb.exit();
  });
  const admin = `http://127.0.0.1:${(await lb.event('admin listening')).port as number}`;
  const port = (await lb.event('service listening')).port as number;

  it('shows a live request with its query string hidden, or whole when asked with the token', async () => {
    client.on('error', () => {});
    client.connect(port, '127.0.0.1');
    client.write('GET /login?user=ann&password=hunter2 HTTP/1.1\r\nHost: x\r\n\r\n');
    while (held.length === 0) await once(member, 'connection');
    const hidden = await ctl(admin, ['connections']);
    assert.equal(hidden.code, 0, hidden.stderr);
    assert.match(hidden.stdout, /GET \/login\?\(redacted\)/);
    assert.doesNotMatch(hidden.stdout, /hunter2/);
    const shown = await ctl(admin, ['connections', '--show-query']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /GET \/login\?user=ann&password=hunter2/);
    const refused = await ctl(admin, ['connections', '--show-query'], null);
    assert.equal(refused.code, 1);
  });
});

describe('furiwake ctl wait (a readiness check)', () => {
  it('returns once a furiwake started after it answers; gives up after SECONDS when nothing does; a bad SECONDS is usage', async () => {
    const port = await freePort();
    const admin = `http://127.0.0.1:${port}`;
    const waiting = furiwake(['ctl', '--admin', admin, 'wait', '120']);
    const dir = await tempDir('ctl-wait');
    const file = path.join(dir, 'furiwake.yaml');
    await writeFile(file, `global: { shutdown-grace: 0s }\nadmin: { listen: 127.0.0.1:${port} }\nservices:\n  s: { listen: 127.0.0.1:0, mode: tcp, pool: p }\npools:\n  p: { members: [ { address: 127.0.0.1:9 } ] }\n`);
    const lb = furiwake(['start', '-c', file]);
    assert.equal(await waiting.exit(), 0, waiting.stderr);
    assert.equal(waiting.stdout, `furiwake is up: its admin API answers at ${admin}\n`);
    lb.child.kill('SIGTERM');
    assert.equal(await lb.exit(), 0);
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const gaveUp = await ctl(nowhere, ['wait', '0'], null);
    assert.deepEqual([gaveUp.code, gaveUp.stderr], [1, `furiwake ctl wait: the admin API at ${nowhere} did not answer within 0 s: is furiwake starting, with an admin section there?\n`]);
    assert.equal((await ctl(nowhere, ['wait', 'soon'], null)).code, 2);
  });
});

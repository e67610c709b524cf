// Issue 12's benchmark: how long clients keep failing after a member dies. furiwake runs as a
// child process (the real bin), each member in a process of its own so it can be SIGKILLed or
// SIGSTOPped, and clients run here, recording every request's start, end and outcome.
// Run by hand: `node bench/member-failure.ts [http|udp|radius|all]` (passive-health is on by
// default; PASSIVE=0 turns it off, PASSIVE=1 writes its defaults out;
// FURIWAKE_BIN=<path of bin/furiwake.js> measures another checkout). `radius`: radclient at
// 200 req/s through a `balance-per: radius-request` service onto two FreeRADIUS servers (needs
// the freeradius and freeradius-utils packages); `udp` is the echo flow and radius both.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freeRadiusConf } from '../test/health/freeradius-conf.ts';

const BIN = process.env.FURIWAKE_BIN ?? fileURLToPath(new URL('../bin/furiwake.js', import.meta.url));
const WHICH = process.argv[2] ?? 'all';
/** passive-health: the pool's default (on), written out (1), or off (0) */
const PASSIVE = process.env.PASSIVE ?? '';
const STEADY_MS = 3000;       // load before the member fails
const AFTER_DOWN_MS = 3000;   // load after the monitor marked it down
const MAX_FAILED_MS = 20_000; // give up waiting for "down" after this long
const CLIENTS = 50;
const UDP_RATE = 200;         // requests/s from one source port
const UDP_TIMEOUT_MS = 500;
const MONITOR = 'interval: 1s, timeout: 500ms, fall: 2, rise: 2';
const RADIUS_SECRET = 'bench-secret';
if (!['http', 'udp', 'radius', 'all'].includes(WHICH)) throw new Error(`usage: node bench/member-failure.ts [http|udp|radius|all], got ${WHICH}`);

const children: ChildProcess[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'furiwake-failbench-'));

/** Kills one child by its PID (SIGKILL ends a frozen one too), unless it has exited. */
function stop(c: ChildProcess): void {
  if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
}

// Ctrl-C or a kill skips `finally`: stop the children and remove the temp dir here too.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const c of children) stop(c);
    rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as net.AddressInfo;
  s.close();
  return port;
}

/** A node process running `source`, which prints its port on its first line. */
async function child(source: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
  return { proc, port: Number(String(line).trim()) };
}

const httpMember = (name: string): string => `const s = require('node:http').createServer((q, r) => r.end(${JSON.stringify(name)}));
s.keepAliveTimeout = 60000; s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
const udpMember = (name: string): string => `const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(Buffer.concat([Buffer.from(${JSON.stringify(name + ' ')}), m]), r.port, r.address));
s.bind(0, '127.0.0.1', () => console.log(s.address().port));`;

/** furiwake start -c <yaml>, resolved once it logs "furiwake started". */
async function startFuriwake(yaml: string): Promise<ChildProcess> {
  const file = join(tmp, 'furiwake.yaml');
  writeFileSync(file, yaml);
  const proc = spawn(process.execPath, [BIN, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const onData = (c: string): void => {
      out += c;
      if (out.includes('furiwake started')) { proc.stdout!.off('data', onData); proc.stdout!.resume(); resolve(); }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', () => reject(new Error(`furiwake exited:\n${out}`)));
  });
  return proc;
}

function config(mode: 'http' | 'udp', listen: number, admin: number, members: { id: string; port: number }[], monitor: string, extra = ''): string {
  return `global: { log-level: info }
admin: { listen: 127.0.0.1:${admin} }
services:
  svc: { listen: 127.0.0.1:${listen}, mode: ${mode}, pool: p${extra} }
pools:
  p:
    algorithm: round-robin
    members:
${members.map((m) => `      - { address: 127.0.0.1:${m.port}, id: ${m.id} }`).join('\n')}
    health:
      monitors:
        - { ${monitor}, ${MONITOR} }
${PASSIVE === '1' ? '    passive-health: { failures: 5, ejection: 30s, max-ejected-percent: 50 }\n' : PASSIVE === '0' ? '    passive-health: { failures: 0 }\n' : ''}`;
}

/** The member's health from the admin API. */
async function health(admin: number, id: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${admin}/api/v1/pools/p/members`);
  const body = (await res.json()) as unknown;
  const list = (Array.isArray(body) ? body : (body as { members: unknown[] }).members) as { id: string; health: string; status: string }[];
  const m = list.find((x) => x.id === id);
  // out of service by passive health is 'down' here too: what the clients see is the same
  return m === undefined ? 'missing' : m.status === 'ejected' ? 'down' : m.health;
}

async function waitHealth(admin: number, ids: string[], want: string, limitMs: number): Promise<number | null> {
  const start = performance.now();
  while (performance.now() - start < limitMs) {
    const all = await Promise.all(ids.map((id) => health(admin, id)));
    if (all.every((h) => h === want)) return performance.now();
    await sleep(20);
  }
  return null;
}

interface Sample { start: number; end: number; ok: boolean }
interface Result { name: string; total: number; failed: number; lastFailMs: number | null; toTheEnd: boolean; downMs: number | null; p99Ms: number; maxMs: number; steadyP99Ms: number; note: string }

/** The latency at quantile q (1 = the longest) of the samples, in ms. */
function quantile(samples: Sample[], q: number): number {
  if (samples.length === 0) return 0;
  const d = samples.map((s) => s.end - s.start).sort((a, b) => a - b);
  return d[Math.min(d.length - 1, Math.floor(d.length * q))]!;
}

/** Figures from the samples: failures after `kill`; the failure window is kill to max(down, last failure). */
/** `failAtStart`: a failure counts from when the request was sent (a udp timeout), else from when it ended. */
/** `loadEnd`: when the clients stopped starting requests; a failure among the last ones started
 * means the failure had not ended when the load did (printed as "N+"). */
function summarize(name: string, samples: Sample[], kill: number, down: number | null, loadEnd: number, note: string, failAtStart = false): Result {
  const failed = samples.filter((s) => !s.ok);
  const lastFail = failed.length === 0 ? null : Math.max(...failed.map((s) => (failAtStart ? s.start : s.end)));
  const windowEnd = Math.max(down ?? kill, lastFail ?? kill);
  const inWindow = samples.filter((s) => s.start >= kill && s.start <= windowEnd);
  return {
    name, total: samples.length, failed: failed.length,
    lastFailMs: lastFail === null ? null : lastFail - kill, toTheEnd: failed.some((s) => s.start >= loadEnd - 100), downMs: down === null ? null : down - kill,
    p99Ms: quantile(inWindow, 0.99), maxMs: quantile(inWindow, 1),
    steadyP99Ms: quantile(samples.filter((s) => s.start < kill), 0.99), note,
  };
}

async function httpScenario(signal: 'SIGKILL' | 'SIGSTOP'): Promise<Result> {
  const members = await Promise.all(['a', 'b', 'c'].map(async (id) => ({ id, ...(await child(httpMember(id))) })));
  const [listen, admin] = [await freePort(), await freePort()];
  const lb = await startFuriwake(config('http', listen, admin, members, 'type: http, path: /'));
  if ((await waitHealth(admin, ['a', 'b', 'c'], 'up', 10_000)) === null) throw new Error('members never came up');
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const samples: Sample[] = [];
  let running = true;
  const one = (): Promise<void> => new Promise((resolve) => {
    const s: Sample = { start: performance.now(), end: 0, ok: false };
    const done = (ok: boolean): void => { if (s.end === 0) { s.end = performance.now(); s.ok = ok; samples.push(s); } resolve(); };
    const req = http.get({ host: '127.0.0.1', port: listen, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode! >= 200 && res.statusCode! < 300));
      res.on('error', () => done(false));
    });
    req.on('error', () => done(false));
    req.setTimeout(120_000, () => req.destroy()); // longer than furiwake's response timeout
  });
  const workers = Array.from({ length: CLIENTS }, async () => { while (running) await one(); });
  await sleep(STEADY_MS);
  const kill = performance.now();
  process.kill(members[0]!.proc.pid!, signal);
  const down = await waitHealth(admin, ['a'], 'down', MAX_FAILED_MS);
  await sleep(AFTER_DOWN_MS);
  running = false;
  const loadEnd = performance.now();
  await Promise.all(workers);
  agent.destroy();
  const inFlightNote = signal === 'SIGSTOP' ? 'member frozen' : 'member killed';
  const r = summarize(`http ${signal}`, samples, kill, down, loadEnd, inFlightNote);
  for (const m of members) stop(m.proc);
  lb.kill('SIGTERM');
  await once(lb, 'exit');
  return r;
}

async function udpScenario(signal: 'SIGKILL' | 'SIGSTOP'): Promise<Result> {
  const members = await Promise.all(['a', 'b'].map(async (id) => ({ id, ...(await child(udpMember(id))) })));
  const [listen, admin] = [await freePort(), await freePort()];
  const lb = await startFuriwake(config('udp', listen, admin, members, 'type: udp, send: ping'));
  if ((await waitHealth(admin, ['a', 'b'], 'up', 10_000)) === null) throw new Error('members never came up');
  const sock = dgram.createSocket('udp4');
  sock.bind(0, '127.0.0.1'); // one fixed source port: one flow
  await once(sock, 'listening');
  const pending = new Map<number, number>(); // seq -> send time
  const samples: Sample[] = [];
  let lastMember = '';
  sock.on('message', (m) => {
    const [name, seq] = String(m).split(' ');
    const start = pending.get(Number(seq));
    if (start === undefined) return; // late: already counted as a timeout
    pending.delete(Number(seq));
    lastMember = name!;
    samples.push({ start, end: performance.now(), ok: true });
  });
  let seq = 0;
  const sweep = (): void => {
    const now = performance.now();
    for (const [k, start] of pending) {
      if (now - start < UDP_TIMEOUT_MS) continue;
      pending.delete(k);
      samples.push({ start, end: start + UDP_TIMEOUT_MS, ok: false });
    }
  };
  const send = setInterval(() => { sock.send(String(++seq), listen, '127.0.0.1'); pending.set(seq, performance.now()); sweep(); }, 1000 / UDP_RATE);
  await sleep(STEADY_MS);
  const victim = members.find((m) => m.id === lastMember)!;
  const kill = performance.now();
  process.kill(victim.proc.pid!, signal);
  const down = await waitHealth(admin, [victim.id], 'down', MAX_FAILED_MS);
  await sleep(AFTER_DOWN_MS);
  clearInterval(send);
  const loadEnd = performance.now();
  await sleep(UDP_TIMEOUT_MS + 50);
  sweep();
  sock.close();
  // a timeout "happens" when its request was sent: that is when the client lost it
  const r = summarize(`udp ${signal}`, samples, kill, down, loadEnd, `flow was on ${victim.id}`, true);
  for (const m of members) stop(m.proc);
  lb.kill('SIGTERM');
  await once(lb, 'exit');
  return r;
}

/** A FreeRADIUS server (PAP, user `user`/`pw`) in the foreground, resolved once it is ready. */
async function freeRadius(id: string): Promise<{ id: string; proc: ChildProcess; port: number }> {
  const dir = join(mkdtempSync(join(tmp, 'raddb-')), id);
  const conf = await freeRadiusConf(dir, RADIUS_SECRET, { user: 'pw' });
  const port = await freePort();
  await conf.listenOn(port);
  const proc = spawn('/usr/sbin/freeradius', ['-f', '-l', 'stdout', '-d', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; if (out.includes('Ready to process requests')) resolve(); });
    proc.once('exit', () => reject(new Error(`freeradius exited:\n${out}`)));
  });
  proc.stdout!.resume();
  return { id, proc, port };
}

/**
 * radclient (`-r 1 -t 1`: each request sent once, a timeout after 1 s) at UDP_RATE req/s through
 * a `balance-per: radius-request` service onto two FreeRADIUS; each request's time is when
 * radclient printed (line-buffered) that it sent it and what came back.
 */
async function radiusScenario(signal: 'SIGKILL' | 'SIGSTOP'): Promise<Result> {
  const members = await Promise.all(['a', 'b'].map(freeRadius));
  const [listen, admin] = [await freePort(), await freePort()];
  const monitor = `type: radius, secret: ${RADIUS_SECRET}, username: user, password: pw`;
  const lb = await startFuriwake(config('udp', listen, admin, members, monitor, ', balance-per: radius-request'));
  if ((await waitHealth(admin, ['a', 'b'], 'up', 10_000)) === null) throw new Error('members never came up');
  // radclient stops sending for good once requests go unanswered (FreeRADIUS 3.2's, with -p), so
  // the loop is batches: every 100 ms a radclient sends BATCH requests, evenly spaced at UDP_RATE
  const BATCH = UDP_RATE / 10;
  const file = join(tmp, 'requests.txt');
  writeFileSync(file, 'User-Name = user\nUser-Password = pw\n\n'.repeat(BATCH));
  const samples: Sample[] = [];
  const running = new Set<Promise<unknown>>();
  let abnormal = 0;
  const batch = (): void => {
    const rc = spawn('stdbuf', ['-oL', '-eL', 'radclient', '-f', file, '-r', '1', '-t', '1', '-n', String(UDP_RATE), '-p', String(BATCH), '-x', `127.0.0.1:${listen}`, 'auth', RADIUS_SECRET], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(rc);
    const sent = new Map<string, number>(); // Id -> when radclient said it sent it
    const done = (id: string, ok: boolean): void => {
      const start = sent.get(id);
      if (start === undefined) return;
      sent.delete(id);
      samples.push({ start, end: ok ? performance.now() : start + 1000, ok });
    };
    const onLine = (line: string): void => {
      let m = /^Sent Access-Request Id (\d+)/.exec(line);
      if (m !== null) return void sent.set(m[1]!, performance.now());
      m = /^Received (Access-\w+) Id (\d+)/.exec(line);
      if (m !== null) return done(m[2]!, m[1] === 'Access-Accept');
      m = /No reply from server for ID (\d+)/.exec(line);
      if (m !== null) done(m[1]!, false);
    };
    createInterface({ input: rc.stdout! }).on('line', onLine);
    createInterface({ input: rc.stderr! }).on('line', onLine);
    // a batch takes 100 ms plus at most 1 s of timeout: ended (by its PID) if it is not done in 3 s
    const deadline = setTimeout(() => { abnormal++; stop(rc); }, 3000);
    const exited: Promise<unknown> = once(rc, 'exit').then(() => {
      clearTimeout(deadline);
      // what it sent and never heard of again is a failure
      for (const id of [...sent.keys()]) done(id, false);
      running.delete(exited);
    });
    running.add(exited);
  };
  batch();
  const loop = setInterval(batch, 100);
  await sleep(STEADY_MS);
  const victim = members[0]!;
  const kill = performance.now();
  process.kill(victim.proc.pid!, signal);
  const down = await waitHealth(admin, [victim.id], 'down', MAX_FAILED_MS);
  await sleep(AFTER_DOWN_MS);
  clearInterval(loop);
  const loadEnd = performance.now();
  while (running.size > 0) await Promise.all(running);
  const r = summarize(`radius ${signal}`, samples, kill, down, loadEnd, `${abnormal} radclient batches ended by the bench`, true);
  for (const m of members) stop(m.proc);
  lb.kill('SIGTERM');
  await once(lb, 'exit');
  return r;
}

const ms = (v: number | null): string => (v === null ? 'never' : `${Math.round(v)}`);
try {
  const results: Result[] = [];
  if (WHICH === 'http' || WHICH === 'all') { results.push(await httpScenario('SIGKILL')); results.push(await httpScenario('SIGSTOP')); }
  if (WHICH === 'udp' || WHICH === 'all') { results.push(await udpScenario('SIGKILL')); results.push(await udpScenario('SIGSTOP')); }
  if (WHICH !== 'http') { results.push(await radiusScenario('SIGKILL')); results.push(await radiusScenario('SIGSTOP')); }
  console.log(`furiwake member failure, ${new Date().toISOString()}, node ${process.version}, passive-health ${PASSIVE === '0' ? 'off' : 'on'}`);
  console.log(`monitor: ${MONITOR}; http: ${CLIENTS} keep-alive clients, 3 members; udp: ${UDP_RATE} req/s from one port, 2 members, timeout ${UDP_TIMEOUT_MS} ms`);
  console.log(`radius: radclient -r 1 -t 1 -n ${UDP_RATE} through balance-per: radius-request, 2 FreeRADIUS, a radius monitor; a timeout counts 1000 ms`);
  const row = (c: string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(13) : x.padStart(10))).join(' ');
  console.log(row(['scenario', 'requests', 'failed', 'last fail', 'down at', 'p99 fail', 'max fail', 'p99 steady']));
  for (const r of results) {
    console.log(row([r.name, String(r.total), String(r.failed), ms(r.lastFailMs) + (r.toTheEnd ? '+' : ''), ms(r.downMs), r.p99Ms.toFixed(1), r.maxMs.toFixed(1), r.steadyP99Ms.toFixed(1)]) + `  (${r.note})`);
  }
  console.log('"down at": when the admin API first said the member is down (its monitor) or ejected (passive health)');
  console.log('times in ms after the kill/stop; "p99/max fail": latency of requests started between it and max(down, last failure)');
  console.log(`"N+": still failing when the load stopped, ${AFTER_DOWN_MS} ms after "down"`);
} finally {
  for (const c of children) stop(c);
  rmSync(tmp, { recursive: true, force: true });
}

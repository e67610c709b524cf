// udp services on worker threads (issue 14): datagrams/s through a udp service and the CPU time of
// furiwake's process per 1,000 round trips (client -> member -> client), with global.workers 1
// and 2, and 2 workers pinned to one core (what the coordination costs). The echo member and the
// load generator are processes of their own, so their work is not counted.
// nginx's stream module (udp, reuseport, worker_processes 1 and 2) runs beside it as the peer
// (Debian's libnginx-mod-stream). Run: npx node bench/udp-workers.ts [seconds] [clients] [rounds]

import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';

const SECONDS = Number(process.argv[2] ?? 10);
const CLIENTS = Number(process.argv[3] ?? 64);
const ROUNDS = Number(process.argv[4] ?? 2);
const ROOT = path.join(import.meta.dirname, '..');
/** clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux) */
const HZ = 100;
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** A udp port free now (the kernel's choice). */
async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  return port;
}

function child(args: string[], pin: string | null): ChildProcess {
  const [command, ...rest] = pin === null ? args : ['taskset', '-c', pin, ...args];
  return spawn(command, rest, { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** The udp echo member, in a process of its own; resolves with its port. */
async function startEcho(pin: string | null): Promise<{ port: number; proc: ChildProcess }> {
  const proc = child([process.execPath, '-e', `
    const s = require('node:dgram').createSocket('udp4');
    s.on('message', (m, r) => s.send(m, r.port, r.address));
    s.bind(0, '127.0.0.1', () => console.log(s.address().port));
  `], pin);
  const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
  return { port: Number(String(line).trim()), proc };
}

/** CPU seconds of a process so far, every thread (utime + stime of /proc/<pid>/stat). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / HZ;
}

/**
 * The load: CLIENTS sockets (CLIENTS flows), each with one datagram in flight, sent again
 * 200 ms without its answer; prints the round trips done in `seconds`.
 */
function startLoad(port: number, seconds: number, pin: string | null): ChildProcess {
  return child([process.execPath, '-e', `
    const dgram = require('node:dgram');
    let done = 0, lost = 0, stop = false;
    const payload = Buffer.alloc(64, 'x');
    for (let i = 0; i < ${CLIENTS}; i++) {
      const s = dgram.createSocket('udp4');
      let sent = 0;
      const send = () => { sent = Date.now(); s.send(payload, ${port}, '127.0.0.1'); };
      s.on('message', () => { done++; if (!stop) send(); });
      setInterval(() => { if (!stop && Date.now() - sent > 200) { lost++; send(); } }, 100).unref();
      s.bind(0, '127.0.0.1', send);
    }
    setTimeout(() => { stop = true; console.log(JSON.stringify({ done, lost })); process.exit(0); }, ${seconds * 1000});
  `], pin);
}

/** A balancer under test: its processes (for their CPU time) and how it stops. */
interface Balancer {
  pids(): Promise<number[]>;
  stop(): Promise<void>;
}

async function startFuriwake(dir: string, port: number, member: number, workers: number, pin: string | null): Promise<Balancer> {
  const config = path.join(dir, 'furiwake.yaml');
  await writeFile(config, `global: { workers: ${workers}, log-level: warn }
services:
  echo: { listen: 127.0.0.1:${port}, mode: udp, pool: echo }
pools:
  echo: { members: [ { address: 127.0.0.1:${member} } ] }
`);
  const proc = child([process.execPath, path.join(ROOT, 'bin/furiwake.js'), 'start', '-c', config], pin);
  proc.stdout!.resume();
  return {
    pids: async () => [proc.pid!],
    stop: async () => {
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    },
  };
}

/** nginx's stream module (udp, reuseport): its master and workers are processes. */
async function startNginx(dir: string, port: number, member: number, workers: number, pin: string | null): Promise<Balancer> {
  const config = path.join(dir, 'nginx.conf');
  await writeFile(config, `load_module ${STREAM_MODULE};
worker_processes ${workers};
daemon off;
pid ${path.join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 4096; }
stream {
  server {
    listen 127.0.0.1:${port} udp reuseport;
    proxy_pass 127.0.0.1:${member};
    proxy_timeout 10s;
  }
}
`);
  const proc = child(['/usr/sbin/nginx', '-p', dir, '-c', config, '-e', '/dev/stderr'], pin);
  proc.stdout!.resume();
  return {
    pids: async () => {
      const children = (await readFile(`/proc/${proc.pid}/task/${proc.pid}/children`, 'latin1')).trim().split(' ').filter((p) => p !== '');
      return [proc.pid!, ...children.map(Number)];
    },
    stop: async () => {
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    },
  };
}

type Start = typeof startFuriwake;

async function measure(label: string, start: Start, workers: number, pins: { balancer: string | null; load: string | null }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'furiwake-udp-bench-'));
  const echo = await startEcho(pins.load);
  const port = await freeUdpPort();
  const balancer = await start(dir, port, echo.port, workers, pins.balancer);
  // started once it answers
  const probe = dgram.createSocket('udp4');
  probe.bind(0, '127.0.0.1');
  await once(probe, 'listening');
  const answered = once(probe, 'message');
  const poke = setInterval(() => probe.send('ping', port, '127.0.0.1'), 100);
  await answered;
  clearInterval(poke);
  probe.close();
  // warm-up
  const warm = startLoad(port, 2, pins.load);
  warm.stdout!.resume();
  await once(warm, 'exit');
  const pids = await balancer.pids();
  const cpuNow = async (): Promise<number> => (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
  const before = await cpuNow();
  const load = startLoad(port, SECONDS, pins.load);
  const [out] = (await once(load.stdout!, 'data')) as [Buffer];
  const cpu = (await cpuNow()) - before;
  const { done, lost } = JSON.parse(String(out)) as { done: number; lost: number };
  await balancer.stop();
  echo.proc.kill();
  await rm(dir, { recursive: true, force: true });
  return `${label.padEnd(36)} ${(done / SECONDS).toFixed(0).padStart(8)} round trips/s ${((cpu * 1000) / (done / 1000)).toFixed(1).padStart(7)} ms CPU per 1,000   (${lost} sent again: no answer within 200 ms)`;
}

const cores = availableParallelism();
console.log(`${CLIENTS} flows, one datagram of 64 bytes in flight each, ${SECONDS} s per run, ${cores} cores, node ${process.version}`);
const oneCore = cores > 1 ? { balancer: '0', load: '1' } : { balancer: null, load: null };
const free = { balancer: null, load: null };
const peers: [string, Start][] = [['furiwake', startFuriwake]];
if (existsSync(STREAM_MODULE)) peers.push(['nginx', startNginx]);
else console.log(`no nginx beside it: its stream module is not installed (${STREAM_MODULE}: apt-get install libnginx-mod-stream)`);
const rows: string[] = [];
for (let round = 0; round < ROUNDS; round++) {
  rows.push(`round ${round + 1}`);
  for (const [name, start] of peers) {
    const unit = name === 'furiwake' ? 'workers' : 'worker_processes';
    rows.push(await measure(`${name} ${unit} 1, core 0`, start, 1, oneCore));
    rows.push(await measure(`${name} ${unit} 2, core 0`, start, 2, oneCore));
    rows.push(await measure(`${name} ${unit} 1, any core`, start, 1, free));
    rows.push(await measure(`${name} ${unit} 2, any core`, start, 2, free));
  }
}
for (const row of rows) console.log(row);

// Scale of the control side: a generated config of many services and members (default 1,000
// tcp services, 1,000 pools of 10 members = 10,000 members), and what it costs to
//   1. validate it: `furiwake validate` (its own process, wall time), and parsing + checking in
//      this process (ms, heap);
//   2. start it: `furiwake start` in its own process, from spawn to its "config applied" line
//      (every listener bound), and its resident memory then;
//   3. reload it (SIGHUP) with 10% of the weights changed, 10 services and their pools replaced
//      and 100 members added: from the signal to the next "config applied" line, the memory
//      after, and whether a connection opened before the reload still carries data after it;
//   4. reload it again with one member's weight changed in one pool (the common reload: one pool
//      of all changes), three times, back and forth: CPU and wall time of each.
// Member addresses are not served (no monitors: they count as up) except the first member of
// the first pool, a local echo server: the live connection goes there.
// Run: node bench/scale-config.ts [services] [members per pool] [workers]   (default 1000 10 auto)
// PROFILE=dir: furiwake runs with --cpu-prof into dir (its main thread; start, reload and stop)

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseConfig } from '../src/config/load.ts';
import { readSource, readWithYaml } from '../src/config/source.ts';

const SERVICES = Number(process.argv[2] ?? 1000);
const PER_POOL = Number(process.argv[3] ?? 10);
const WORKERS = process.argv[4] ?? 'auto';
const BIN = new URL('../bin/furiwake.js', import.meta.url).pathname;
const NODE = process.execPath;

/**
 * The config text: `reloaded` is the changed one (weights, 10 services replaced, 100 more
 * members); `onePool`, that one with the weight of pool p1's first member changed.
 */
function config(listenBase: number, echoPort: number, reloaded: boolean, onePool = false): string {
  const lines = [`global: { workers: ${WORKERS} }`, 'services:'];
  const replaced = (i: number): boolean => reloaded && i >= SERVICES - 10;
  for (let i = 0; i < SERVICES; i++) {
    const name = replaced(i) ? `n${i}` : `s${i}`;
    lines.push(`  ${name}: { listen: 127.0.0.1:${listenBase + i}, mode: tcp, pool: ${replaced(i) ? `q${i}` : `p${i}`} }`);
  }
  lines.push('pools:');
  for (let i = 0; i < SERVICES; i++) {
    const members: string[] = [];
    const count = PER_POOL + (reloaded && i < 10 ? 10 : 0);
    for (let j = 0; j < count; j++) {
      const k = i * 64 + j;
      const address = i === 0 && j === 0 ? `127.0.0.1:${echoPort}` : `127.${1 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}:8080`;
      const weight = (reloaded && (i * PER_POOL + j) % 10 === 0 ? 2 : 1) + (onePool && i === 1 && j === 0 ? 5 : 0);
      members.push(`{ address: ${address}, id: m${j}, weight: ${weight} }`);
    }
    lines.push(`  ${replaced(i) ? `q${i}` : `p${i}`}: { algorithm: weighted-least-connections, members: [ ${members.join(', ')} ] }`);
  }
  return `${lines.join('\n')}\n`;
}

/** CPU ms a process has used, all its threads (utime + stime of /proc/PID/stat, 10 ms ticks): wall time on a shared machine counts the others too. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? NaN : Number(match[1]) / 1024;
}

function freePortBlock(count: number): number {
  // a block of ports well away from the ephemeral range; the start fails loudly if one is taken
  const room = 32768 - 20000 - count;
  if (room < 0) throw new Error('too many services for the port block 20000-32767');
  return 20000 + Math.floor(Math.random() * (room + 1));
}

const dir = mkdtempSync(join(tmpdir(), 'furiwake-scale-'));
const file = join(dir, 'scale.yaml');
const echo = net.createServer((socket) => socket.pipe(socket));
echo.listen(0, '127.0.0.1');
await once(echo, 'listening');
const echoPort = (echo.address() as net.AddressInfo).port;
const listenBase = freePortBlock(SERVICES);

const first = config(listenBase, echoPort, false);
const second = config(listenBase, echoPort, true);
writeFileSync(file, first);
console.log(`${SERVICES} services, ${SERVICES} pools, ${SERVICES * PER_POOL} members, workers: ${WORKERS}; config ${(first.length / 1024).toFixed(0)} KiB\n`);

// 1. validate
{
  const t0 = performance.now();
  const child = spawn(NODE, [BIN, 'validate', '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const [code] = await once(child, 'exit');
  console.log(`validate (furiwake validate, own process):  ${(performance.now() - t0).toFixed(0)} ms, exit ${code}`);
  const heap0 = process.memoryUsage().heapUsed;
  const t1 = process.cpuUsage();
  const parsed = parseConfig(first, file);
  const used = process.cpuUsage(t1);
  const ms = (used.user + used.system) / 1000;
  const heap = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  console.log(`parse + validate in process:                ${ms.toFixed(0)} ms CPU, ${heap.toFixed(1)} MiB of heap for the result and garbage (${parsed.services.size ?? Object.keys(parsed.services).length} services)`);
  // reading the text alone: the common YAML reader (what a load uses) and the yaml library (its fallback), best of 5
  const best = (read: () => unknown): number => {
    let min = Infinity;
    for (let i = 0; i < 5; i++) {
      const t = process.cpuUsage();
      read();
      const u = process.cpuUsage(t);
      min = Math.min(min, (u.user + u.system) / 1000);
    }
    return min;
  };
  const common = best(() => readSource(first, file));
  const library = best(() => readWithYaml(first, file));
  console.log(`reading the text, CPU (best of 5):          ${common.toFixed(0)} ms (common YAML reader), ${library.toFixed(0)} ms (yaml library)`);
}

// 2. start
const t0 = performance.now();
const profile = process.env.PROFILE === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE}`];
const child = spawn(NODE, [...profile, BIN, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'inherit'] });
const lines = createInterface({ input: child.stdout! });
const applied: ((line: string) => void)[] = [];
lines.on('line', (line) => {
  if (line.includes('"msg":"config applied"')) applied.shift()?.(line);
  else if (line.includes('"level":50') || line.includes('"level":40')) console.log(`  log: ${line.slice(0, 200)}`);
});
const nextApplied = (): Promise<string> => new Promise((resolve) => applied.push(resolve));
await nextApplied();
const startMs = performance.now() - t0;
const startCpu = cpuMs(child.pid!);
await new Promise((r) => setTimeout(r, 500)); // memory settles (workers' first collections)
console.log(`start (spawn to every listener bound):      ${startMs.toFixed(0)} ms wall, ${startCpu} ms CPU, RSS ${rssMiB(child.pid!).toFixed(0)} MiB`);

// a live connection through s0, to the echo server
const live = net.connect(listenBase, '127.0.0.1');
await once(live, 'connect');
const roundTrip = async (text: string): Promise<boolean> => {
  live.write(text);
  const [data] = await once(live, 'data');
  return String(data) === text;
};
const before = await roundTrip('before');

// 3. reload
writeFileSync(file, second);
const cpu0 = cpuMs(child.pid!);
const r0 = performance.now();
child.kill('SIGHUP');
const summary = await nextApplied();
const reloadMs = performance.now() - r0;
const reloadCpu = cpuMs(child.pid!) - cpu0;
const after = await roundTrip('after');
await new Promise((r) => setTimeout(r, 500));
console.log(`reload (SIGHUP to config applied):          ${reloadMs.toFixed(0)} ms wall, ${reloadCpu} ms CPU, RSS ${rssMiB(child.pid!).toFixed(0)} MiB after`);
console.log(`live connection across the reload:          ${before && after ? 'carried data before and after' : `BROKEN (before ${before}, after ${after})`}`);
console.log(`  (${/"summary":"([^"]{0,120})/.exec(summary)?.[1] ?? ''}...)`);

// 4. reloads that change one pool
const third = config(listenBase, echoPort, true, true);
for (const [round, text] of [third, second, third].entries()) {
  writeFileSync(file, text);
  const c0 = cpuMs(child.pid!);
  const w0 = performance.now();
  child.kill('SIGHUP');
  const said = await nextApplied();
  const wall = performance.now() - w0;
  const cpu = cpuMs(child.pid!) - c0;
  await new Promise((r) => setTimeout(r, 500));
  console.log(`reload of one pool's change, ${round + 1} of 3:      ${wall.toFixed(0)} ms wall, ${cpu} ms CPU (${/"summary":"([^"]{0,80})/.exec(said)?.[1] ?? ''})`);
}
console.log(`live connection after them:                 ${(await roundTrip('later')) ? 'carries data' : 'BROKEN'}`);

live.destroy();
child.kill('SIGTERM');
await once(child, 'exit');
echo.close();
rmSync(dir, { recursive: true, force: true });

// What the access log costs per request, two ways:
//   1. the log call alone: CPU ns per logged request, for the process log's pino line (no
//      logs.access), JSON with every field, and an nginx-like line; to a standard output that
//      discards (making the line) and to a file (written in the thread pool; yielding every 256
//      requests so the writes happen);
//   2. http keep-alive requests/s through furiwake (its own process, one loop) with the access
//      log off, as the process log's line on stdout (a pipe), as JSON to a file, and as a line to a
//      file: h2load --h1, the member a node http server in its own process. Rounds interleave.
// Run: node bench/access-log.ts [requests per run] [rounds]   (default 100000, 3; needs h2load; 0 requests: part 1 only)

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { Children, freePort, h2loadRate, killed, median } from './child-processes.ts';
import { parseConfig } from '../src/config/load.ts';
import { createLogger, logOutputs } from '../src/log.ts';
import { logRequest, type RequestLine, type Timings } from '../src/proxy/http/access-log.ts';

const REQUESTS = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const BIN = new URL('../bin/furiwake.js', import.meta.url).pathname;
const children = new Children('access');
const tmp = children.tmp;
const LINE = `'$client - [$time] "$method $path $protocol" $status $bytes $total'`;

/** The logs section of each variant (null: access-log: false), with `file` as its file. */
const VARIANTS: Record<string, ((file: string) => string) | null> = {
  off: null,
  'process log (pino)': (file) => `logs: { process: { to: 'file:${file}' } }`,
  'json, every field': (file) => `logs: { access: { format: json, to: 'file:${file}' } }`,
  'line (combined-like)': (file) => `logs: { access: { line: ${JSON.stringify(LINE.slice(1, -1))}, to: 'file:${file}' } }`,
};

function yaml(logs: string | null, listen: number, member: number, stdoutLog = false): string {
  return `global: { workers: 1, log-level: info }
${logs ?? ''}
services:
  www: { listen: 127.0.0.1:${listen}, mode: http, pool: p${logs === null && !stdoutLog ? ', access-log: false' : ''} }
pools:
  p: { members: [ { address: 127.0.0.1:${member} } ] }
`;
}

// ---- 1. the call alone --------------------------------------------------------------------

/**
 * CPU ns of this process per logged request (the file's writes in the thread pool included), and
 * the lines the file's buffer dropped (written faster than the disk took them). `toFile` false:
 * to a standard output that discards, so only making the line is measured.
 */
async function micro(name: string, logs: (file: string) => string, toFile: boolean): Promise<{ ns: number; dropped: number }> {
  const log = createLogger('info', new Writable({ write: (_chunk, _encoding, done) => done() }));
  const section = logs(join(tmp, `micro-${name.replace(/\W/g, '')}.log`));
  const config = parseConfig(yaml(toFile ? section : section.replace(/'file:[^']*'/, 'stdout'), 1, 1), 'bench.yaml', {});
  const failures = logOutputs(log).apply(config.logs);
  if (failures.length > 0) throw new Error(failures.join('\n'));
  const line: RequestLine = { client: '192.0.2.7', service: 'www', member: '127.0.0.1:8080', protocol: 'HTTP/1.1', method: 'GET', path: '/cart/items?id=7&sort=price', status: 200, bytes: 1432 };
  const t: Timings = { start: performance.now(), queue: 0, connect: 0.42, firstByte: 1.37 };
  const run = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      logRequest(log, line, t);
      if ((i & 255) === 255) await turn();
    }
  };
  await run(20_000);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const start = process.cpuUsage();
    await run(200_000);
    const used = process.cpuUsage(start);
    best = Math.min(best, ((used.user + used.system) * 1000) / 200_000);
  }
  const dropped = logOutputs(log).dropped;
  await logOutputs(log).close();
  return { ns: best, dropped };
}

// ---- 2. through furiwake ------------------------------------------------------------------

/** requests/s, and furiwake's CPU ms per 1,000 requests (steadier than requests/s on a busy machine), by variant */
async function throughFuriwake(): Promise<{ results: Map<string, number[]>; cpu: Map<string, number[]> }> {
  const memberSource = `const s = require('node:http').createServer((q, r) => r.end('ok\\n'));
s.keepAliveTimeout = 60000; s.listen(0, '127.0.0.1', () => console.log('port ' + s.address().port));`;
  const out = await children.started(spawn(process.execPath, ['-e', memberSource], { stdio: ['ignore', 'pipe', 'inherit'] }), '\n');
  const member = Number(/port (\d+)/.exec(out)![1]);
  // 'process log (pino)' through furiwake: the default, lines on stdout (a pipe this process reads)
  const names = ['off', 'process log on stdout (pino, the default)', 'json, every field', 'line (combined-like)'];
  const results = new Map<string, number[]>(names.map((n) => [n, []]));
  const cpu = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const port = await freePort();
      const file = join(tmp, `furiwake-${round}-${name.replace(/\W/g, '')}.log`);
      const cfg = join(tmp, 'bench.yaml');
      const logs = VARIANTS[name] === undefined ? null : VARIANTS[name]?.(file) ?? null;
      writeFileSync(cfg, yaml(logs, port, member, name.startsWith('process log')));
      const proc = spawn(process.execPath, [BIN, 'start', '-c', cfg], { stdio: ['ignore', 'pipe', 'inherit'] });
      await children.started(proc, 'furiwake started');
      const before = cpuMs(proc.pid!);
      results.get(name)!.push(await h2loadRate(['--h1', '-c', '32', '-t', '1', `http://127.0.0.1:${port}/cart/items?id=7`], REQUESTS));
      cpu.get(name)!.push(((cpuMs(proc.pid!) - before) * 1000) / REQUESTS);
      await killed(proc);
    }
  }
  return { results, cpu };
}

/** CPU time (user + system) a process has used, in ms (Linux: /proc). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

try {
  console.log('the log call alone: CPU ns per logged request (best of 3 x 200,000)');
  console.log('| format | to a discarding stdout | to a file | lines the file buffer dropped (of 620,000) |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [name, logs] of Object.entries(VARIANTS)) {
    if (logs === null) continue;
    const bare = await micro(name, logs, false);
    const { ns, dropped } = await micro(name, logs, true);
    console.log(`| ${name} | ${bare.ns.toFixed(0)} | ${ns.toFixed(0)} | ${dropped} |`);
  }
  if (REQUESTS > 0) {
    console.log(`\nhttp keep-alive through furiwake (one loop): h2load --h1 -c 32, ${REQUESTS} requests per run, median of ${ROUNDS} rounds`);
    const { results, cpu } = await throughFuriwake();
    const base = median(results.get('off')!);
    const baseCpu = median(cpu.get('off')!);
    console.log('| access log | requests/s | against off | CPU ms per 1,000 requests | against off | requests/s of every round |');
    console.log('| --- | ---: | ---: | ---: | ---: | --- |');
    for (const [n, runs] of results) {
      const c = median(cpu.get(n)!);
      console.log(`| ${n} | ${median(runs).toFixed(0)} | ${(median(runs) / base).toFixed(3)} | ${c.toFixed(1)} | ${(c / baseCpu).toFixed(3)} | ${runs.map((r) => r.toFixed(0)).join(', ')} |`);
    }
  }
} finally {
  children.stopAll();
}

// What the access log costs per request, two ways:
//   1. the log call alone: ns per logged request (formatting, and the file written in the
//      background on the same thread, yielding every 256 requests so the writes happen),
//      for the process log's pino line (no logs.access), JSON with every field, and an nginx-like
//      line; each to a file;
//   2. http keep-alive requests/s through furiwake (its own process, one loop) with the access
//      log off, as the process log's line on stdout (a pipe), as JSON to a file, and as a line to a
//      file: h2load --h1, the member a node http server in its own process. Rounds interleave.
// Run: node bench/access-log.ts [requests per run] [rounds]   (default 100000, 3; needs h2load)

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
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

/** ns per call, and the lines the file's buffer dropped (written faster than the disk took them). */
async function micro(name: string, logs: (file: string) => string): Promise<{ ns: number; dropped: number }> {
  const log = createLogger('info', new Writable({ write: (_chunk, _encoding, done) => done() }));
  const config = parseConfig(yaml(logs(join(tmp, `micro-${name.replace(/\W/g, '')}.log`)), 1, 1), 'bench.yaml', {});
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
    const start = process.hrtime.bigint();
    await run(200_000);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 200_000);
  }
  const dropped = logOutputs(log).dropped;
  await logOutputs(log).close();
  return { ns: best, dropped };
}

// ---- 2. through furiwake ------------------------------------------------------------------

async function throughFuriwake(): Promise<Map<string, number[]>> {
  const memberSource = `const s = require('node:http').createServer((q, r) => r.end('ok\\n'));
s.keepAliveTimeout = 60000; s.listen(0, '127.0.0.1', () => console.log('port ' + s.address().port));`;
  const out = await children.started(spawn(process.execPath, ['-e', memberSource], { stdio: ['ignore', 'pipe', 'inherit'] }), '\n');
  const member = Number(/port (\d+)/.exec(out)![1]);
  // 'process log (pino)' through furiwake: the default, lines on stdout (a pipe this process reads)
  const names = ['off', 'process log on stdout (pino, the default)', 'json, every field', 'line (combined-like)'];
  const results = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const port = await freePort();
      const file = join(tmp, `furiwake-${round}-${name.replace(/\W/g, '')}.log`);
      const cfg = join(tmp, 'bench.yaml');
      const logs = VARIANTS[name] === undefined ? null : VARIANTS[name]?.(file) ?? null;
      writeFileSync(cfg, yaml(logs, port, member, name.startsWith('process log')));
      const proc = spawn(process.execPath, [BIN, 'start', '-c', cfg], { stdio: ['ignore', 'pipe', 'inherit'] });
      await children.started(proc, 'furiwake started');
      results.get(name)!.push(await h2loadRate(['--h1', '-c', '32', '-t', '1', `http://127.0.0.1:${port}/cart/items?id=7`], REQUESTS));
      await killed(proc);
    }
  }
  return results;
}

try {
  console.log('the log call alone: ns per logged request, to a file (best of 3 x 200,000)');
  console.log('| format | ns per request | lines the file buffer dropped (of 620,000) |');
  console.log('| --- | ---: | ---: |');
  for (const [name, logs] of Object.entries(VARIANTS)) {
    if (logs === null) continue;
    const { ns, dropped } = await micro(name, logs);
    console.log(`| ${name} | ${ns.toFixed(0)} | ${dropped} |`);
  }
  console.log(`\nhttp keep-alive through furiwake (one loop): h2load --h1 -c 32, ${REQUESTS} requests per run, median of ${ROUNDS} rounds`);
  const results = await throughFuriwake();
  const base = median(results.get('off')!);
  console.log('| access log | requests/s | against off | every round |');
  console.log('| --- | ---: | ---: | --- |');
  for (const [n, runs] of results) console.log(`| ${n} | ${median(runs).toFixed(0)} | ${(median(runs) / base).toFixed(3)} | ${runs.map((r) => r.toFixed(0)).join(', ')} |`);
} finally {
  children.stopAll();
}

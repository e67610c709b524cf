// What routes cost per request, two ways:
//   1. the route table alone: ns per match at 3, 100 and 1,000 routes (a mix of exact hosts,
//      wildcard hosts, path prefixes, exact paths and a few regexes, methods and headers), for a
//      mix of requests that hit early, late and no route;
//   2. an http keep-alive run through furiwake (its own process) with no routes, 3, 100 and
//      1,000 routes, the request taken by one of the last routes: requests/s from h2load (--h1),
//      the member a node http server in its own process. Rounds interleave the variants.
// Regexes cost what they cost: every regex route the host and path lists leave in is tried in
// order, so the mix has one in 50 (a host-regex), as a config that uses them sparingly would.
// Run: node bench/routes.ts [requests per run] [rounds]   (default 100000, 3; needs h2load)

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Children, freePort, h2loadRate, killed, median } from './child-processes.ts';
import type { RouteConfig } from '../src/config/routes-types.ts';
import { parseConfig } from '../src/config/load.ts';
import { RouteTable, type RoutedRequest } from '../src/routing/route-table.ts';

const REQUESTS = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const SIZES = [3, 100, 1000];
const BIN = new URL('../bin/furiwake.js', import.meta.url).pathname;
const children = new Children('routes');
const tmp = children.tmp;

/** Route i, in the file's words: exact hosts, wildcard hosts, path prefixes, exact paths, a method, a header, a rare regex. */
function route(i: number): string {
  if (i % 50 === 49) return `{ name: r${i}, match: { host-regex: "^h${i}-[0-9]+\\\\.example\\\\.com$" }, pool: q }`;
  switch (i % 5) {
    case 0: return `{ name: r${i}, match: { host: app${i}.example.com, path-prefix: /v${i}/ }, pool: q }`;
    case 1: return `{ name: r${i}, match: { host: "*.zone${i}.example.com" }, pool: q }`;
    case 2: return `{ name: r${i}, match: { path: /exact/${i} }, pool: q }`;
    case 3: return `{ name: r${i}, match: { path-prefix: /svc${i}/, method: [ GET, HEAD ] }, pool: q }`;
    default: return `{ name: r${i}, match: { host: app${i}.example.com, header: { x-tenant: t${i} } }, pool: q }`;
  }
}

function routesYaml(n: number): string {
  return n === 0 ? '' : `, routes: [ ${Array.from({ length: n }, (_, i) => route(i)).join(', ')} ]`;
}

function yaml(n: number, listen: number, member: number): string {
  return `global: { log-level: info }
services:
  www: { listen: 127.0.0.1:${listen}, mode: http, pool: p, access-log: false${routesYaml(n)} }
pools:
  p: { members: [ { address: 127.0.0.1:${member} } ] }
  q: { members: [ { address: 127.0.0.1:${member} } ] }
`;
}

/** A request one of route i's kind takes. */
function requestFor(i: number): RoutedRequest {
  const ask = (host: string, target: string, fields = ''): RoutedRequest => ({ host, target, method: 'GET', fields: `host: ${host}\r\n${fields}` });
  if (i % 50 === 49) return ask(`h${i}-42.example.com`, '/x');
  switch (i % 5) {
    case 0: return ask(`app${i}.example.com`, `/v${i}/items?id=7`);
    case 1: return ask(`www.zone${i}.example.com`, '/');
    case 2: return ask('www.example.com', `/exact/${i}`);
    case 3: return ask('www.example.com', `/svc${i}/a/b`);
    default: return ask(`app${i}.example.com`, '/', `x-tenant: t${i}\r\n`);
  }
}

// ---- 1. the table alone -------------------------------------------------------------------

function micro(n: number): { hit: number; miss: number } {
  const routes: RouteConfig[] = parseConfig(yaml(n, 1, 1), 'bench.yaml', {}).services.www.http!.routes;
  const table = new RouteTable(routes);
  // hits spread over every route (early and late alike), and misses that go to the default pool
  const hits = Array.from({ length: 256 }, (_, k) => requestFor(Math.floor((k * n) / 256)));
  const misses = Array.from({ length: 256 }, (_, k): RoutedRequest => ({ host: `other${k}.example.org`, target: `/none/${k}?q=1`, method: 'GET', fields: 'host: x\r\n' }));
  const time = (reqs: RoutedRequest[], expectHit: boolean): number => {
    const count = 400_000;
    let found = 0;
    const run = (m: number): void => {
      for (let i = 0; i < m; i++) if (table.match(reqs[i & 255], '192.0.2.7', null) !== -1) found++;
    };
    run(50_000);
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      found = 0;
      const start = process.hrtime.bigint();
      run(count);
      best = Math.min(best, Number(process.hrtime.bigint() - start) / count);
    }
    if ((found === count) !== expectHit) throw new Error(`routes ${n}: ${found} of ${count} matched`);
    return best;
  };
  return { hit: time(hits, true), miss: time(misses, false) };
}

// ---- 2. through furiwake ------------------------------------------------------------------

async function throughFuriwake(): Promise<Map<number, number[]>> {
  const memberSource = `const s = require('node:http').createServer((q, r) => r.end('ok\\n'));
s.keepAliveTimeout = 60000; s.listen(0, '127.0.0.1', () => console.log('port ' + s.address().port));`;
  const out = await children.started(spawn(process.execPath, ['-e', memberSource], { stdio: ['ignore', 'pipe', 'inherit'] }), '\n');
  const member = Number(/port (\d+)/.exec(out)![1]);
  const variants = [0, ...SIZES];
  const results = new Map<number, number[]>(variants.map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const n of variants) {
      const port = await freePort();
      const file = join(tmp, `routes-${n}.yaml`);
      writeFileSync(file, yaml(n, port, member));
      const proc = spawn(process.execPath, [BIN, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'inherit'] });
      await children.started(proc, 'furiwake started');
      // the last route of the first kind (host and path prefix): the table must look past the others
      const last = n === 0 ? 0 : n - 1 - ((n - 1) % 5) - (n > 50 ? 5 : 0);
      const req = requestFor(last);
      results.get(n)!.push(await h2loadRate(['--h1', '-c', '32', '-t', '1', '-H', `:authority: ${req.host}`, `http://127.0.0.1:${port}${req.target}`], REQUESTS));
      await killed(proc);
    }
  }
  return results;
}

try {
  console.log('route table alone: ns per match (best of 3 x 400,000)');
  console.log('| routes | request a route takes | request no route takes |');
  console.log('| ---: | ---: | ---: |');
  for (const n of SIZES) {
    const { hit, miss } = micro(n);
    console.log(`| ${n} | ${hit.toFixed(0)} ns | ${miss.toFixed(0)} ns |`);
  }
  console.log(`\nhttp keep-alive through furiwake: h2load --h1 -c 32, ${REQUESTS} requests per run, median of ${ROUNDS} rounds`);
  const results = await throughFuriwake();
  const base = median(results.get(0)!);
  console.log('| routes | requests/s | against no routes | every round |');
  console.log('| ---: | ---: | ---: | --- |');
  for (const [n, runs] of results) console.log(`| ${n} | ${median(runs).toFixed(0)} | ${(median(runs) / base).toFixed(3)} | ${runs.map((r) => r.toFixed(0)).join(', ')} |`);
} finally {
  children.stopAll();
}

// What header rules and request ids cost per request, in the data plane's own functions: the
// member's request head written without rules, with a typical service's rules (two fields set
// with request parts, one added, one deleted) and a request id, and the response fields edited
// (one set, one added, one deleted, the id echoed); a new id against crypto.randomUUID.
// Then an http keep-alive run through furiwake (its own process, one event loop) without and
// with those rules and ids: requests/s from h2load (--h1 -c 32), the member a node http server in
// its own process. Rounds interleave the variants; the median round is shown.
// Run: node bench/header-rules.ts [iterations] [rounds] [requests per h2load run]
//      (default 200000, 5, 50000; the second part needs h2load)

import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseConfig } from '../src/config/load.ts';
import { Children, freePort } from './child-processes.ts';
import { HeaderEditor } from '../src/proxy/http/header-rules.ts';
import { memberRequestHead } from '../src/proxy/http/head-writer.ts';
import { newRequestId } from '../src/proxy/http/request-id.ts';
import { parseRequestHead } from '../src/proxy/http/request-head.ts';

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const REQUESTS = Number(process.argv[4] ?? 50_000);
const BIN = new URL('../bin/furiwake.js', import.meta.url).pathname;

const RULES_YAML = `request-id: { echo: true }, headers: {
    request: { set: { X-Real-IP: "{client}", X-Original-URI: "{path}{query}" }, add: { Via: furiwake }, delete: [ X-Debug ] },
    response: { set: { Strict-Transport-Security: "max-age=31536000" }, add: { X-Served-By: "{service}" }, delete: [ Server ] } }`;

const http = parseConfig(`services:
  www: { listen: 127.0.0.1:80, mode: http, pool: p, ${RULES_YAML} }
pools:
  p: { members: [ { address: 127.0.0.1:8080 } ] }
`, 'bench.yaml', {}).services.www.http!;

const HEAD = 'GET /shop/items?id=42 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0\r\nAccept: text/html,application/xhtml+xml\r\n'
  + 'Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nCookie: session=abc123; theme=dark\r\nX-Debug: 1\r\n\r\n';
const RESPONSE_FIELDS = 'Server: nginx/1.24\r\nDate: Wed, 02 Dec 2026 13:00:00 GMT\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: max-age=60\r\nETag: "abc"\r\n';
const limits = { requestLine: 8192, headers: 32768 };
const forwarding = { forwarded: 'x-forwarded' as const, client: '192.0.2.7', https: false, memberHost: '127.0.0.1:8080', close: false };
const ctx = { client: '192.0.2.7', https: false, service: 'www', route: '' };

let sink = 0;

const variants: Record<string, () => void> = {
  'request head, no rules': () => {
    const req = parseRequestHead(HEAD, limits, true);
    sink += memberRequestHead(req, forwarding).length;
  },
  'request head, rules + new id': () => {
    const req = parseRequestHead(HEAD, limits, true);
    const editor = new HeaderEditor(http.headers, null, req, ctx, http.requestId);
    sink += memberRequestHead(req, { ...forwarding, headers: editor }).length;
    sink += editor.response(RESPONSE_FIELDS).length;
  },
  'new id (prefix + counter)': () => {
    sink += newRequestId().length;
  },
  'crypto.randomUUID': () => {
    sink += randomUUID().length;
  },
};

const times: Record<string, number[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(variants)) {
    for (let i = 0; i < 1000; i++) run();
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i++) run();
    (times[name] ??= []).push(Number(process.hrtime.bigint() - start) / N);
  }
}
for (const [name, ns] of Object.entries(times)) {
  console.log(`${name.padEnd(32)} ${median(ns).toFixed(0).padStart(6)} ns per request (median of ${ROUNDS} rounds of ${N})`);
}
if (sink === 0) console.log('');

// ---- through furiwake ---------------------------------------------------------------------

const children = new Children('headers');
const tmp = children.tmp;
try {
  const memberSource = `const s = require('node:http').createServer((q, r) => { r.setHeader('server', 'member'); r.end('ok\\n'); });
s.keepAliveTimeout = 60000; s.listen(0, '127.0.0.1', () => console.log('port ' + s.address().port));`;
  const member = Number(/port (\d+)/.exec(await children.started(spawn(process.execPath, ['-e', memberSource], { stdio: ['ignore', 'pipe', 'inherit'] }), '\n'))![1]);
  const variants: Record<string, string> = { 'no rules': '', 'rules + request id': `, ${RULES_YAML}` };
  const rps: Record<string, number[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, keys] of Object.entries(variants)) {
      const port = await freePort();
      const file = join(tmp, 'config.yaml');
      writeFileSync(file, `global: { log-level: info, workers: 1 }
services:
  www: { listen: 127.0.0.1:${port}, mode: http, pool: p, access-log: false${keys} }
pools:
  p: { members: [ { address: 127.0.0.1:${member} } ] }
`);
      const proc = spawn(process.execPath, [BIN, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'inherit'] });
      await children.started(proc, 'furiwake started');
      const { stdout } = await promisify(execFile)('h2load', ['--h1', '-n', String(REQUESTS), '-c', '32', '-t', '1', '-H', 'X-Debug: 1', `http://127.0.0.1:${port}/shop/items?id=42`]);
      const m = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout);
      const ok = /(\d+) succeeded/.exec(stdout);
      if (m === null || ok === null || Number(ok[1]) !== REQUESTS) throw new Error(`h2load: ${stdout}`);
      (rps[name] ??= []).push(Number(m[1]));
      proc.kill('SIGKILL');
      await once(proc, 'exit');
    }
  }
  console.log(`\nhttp keep-alive through furiwake (one loop): h2load --h1 -c 32, ${REQUESTS} requests per run, median of ${ROUNDS} rounds`);
  const base = median(rps['no rules']);
  for (const [name, list] of Object.entries(rps)) console.log(`${name.padEnd(32)} ${median(list).toFixed(0).padStart(7)} req/s  (${((median(list) / base) * 100).toFixed(1)}%)`);
} finally {
  children.stopAll();
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

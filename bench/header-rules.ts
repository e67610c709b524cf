// What header rules and request ids cost per request, in the data plane's own functions: the
// member's request head written without rules, with a typical service's rules (two fields set
// with request parts, one added, one deleted) and a request id, and the response fields edited
// (one set, one added, one deleted, the id echoed); a new id against crypto.randomUUID.
// Rounds interleave the variants; the median round is shown.
// Run: node bench/header-rules.ts [iterations] [rounds]   (default 200000, 5)

import { randomUUID } from 'node:crypto';
import { parseConfig } from '../src/config/load.ts';
import { HeaderEditor } from '../src/proxy/http/header-rules.ts';
import { memberRequestHead } from '../src/proxy/http/head-writer.ts';
import { newRequestId } from '../src/proxy/http/request-id.ts';
import { parseRequestHead } from '../src/proxy/http/request-head.ts';

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 5);

const http = parseConfig(`services:
  www: { listen: 127.0.0.1:80, mode: http, pool: p, request-id: { echo: true }, headers: {
    request: { set: { X-Real-IP: "{client}", X-Original-URI: "{path}{query}" }, add: { Via: furiwake }, delete: [ X-Debug ] },
    response: { set: { Strict-Transport-Security: "max-age=31536000" }, add: { X-Served-By: "{service}" }, delete: [ Server ] } } }
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
  const sorted = ns.sort((a, b) => a - b);
  console.log(`${name.padEnd(32)} ${sorted[Math.floor(sorted.length / 2)].toFixed(0).padStart(6)} ns per request (median of ${ROUNDS} rounds of ${N})`);
}
if (sink === 0) console.log('');

// The translations towards HTTP/2 members fuzzed. Random HTTP/1.1 request heads (mutated from a
// grammar of request lines and fields), as the HTTP/1.1 parser accepts them, become header lists
// (built from the request as read, the same as from the head writer's text): whatever came, no connection-specific field, TE only as
// "trailers", lowercase token names, values without CR, LF or NUL, the :authority of the request's
// host, a :path nghttp2 takes, the framing as parsed. And grpc-timeout values: never a throw, a
// deadline of at least 1 ms for each valid one, none for anything else. And members' header lists
// (names as nghttp2 passes them, values mutated, any status, Content-Length, END_STREAM): a head
// or an HttpError 502, never another throw; the fields a head keeps are the list's own, in order,
// without pseudo-headers, connection fields, TE or Trailer, values without control characters;
// the body's framing as the status, method, Content-Length and END_STREAM say.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grpcTimeout } from '../../../src/proxy/http/grpc.ts';
import { memberRequestHeaders, memberRequestList, memberResponseHead, type MemberResponse } from '../../../src/proxy/http/h2-member-heads.ts';
import { memberRequestHead } from '../../../src/proxy/http/head-writer.ts';
import { parseRequestHead, type RequestHead } from '../../../src/proxy/http/request-head.ts';
import { HttpError } from '../../../src/proxy/http/responses.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../../helpers/fuzz.ts';

const INPUTS = 20_000;
const limits = { requestLine: 8192, headers: 32768 };
const LINES = ['GET / HTTP/1.1', 'POST /a?b=c HTTP/1.1', 'GET http://h.example:81/p?q HTTP/1.1', 'GET http://h.example HTTP/1.1', 'OPTIONS * HTTP/1.1', 'CONNECT h.example:443 HTTP/1.1', 'HEAD /x HTTP/1.0', 'GET http://h.example?x HTTP/1.1'];
const FIELDS = [
  'Host: h.example', 'host: [::1]:8080', 'Connection: keep-alive, X-Hop', 'X-Hop: 1', 'Connection: close', 'Keep-Alive: 5', 'Proxy-Connection: x',
  'Transfer-Encoding: chunked', 'Content-Length: 5', 'TE: trailers, deflate', 'te: gzip', 'Upgrade: websocket', 'Connection: upgrade',
  'HTTP2-Settings: AAMAAABkAAQAAP__', 'Content-Type: application/grpc', 'content-type: application/grpc+proto', 'Cookie: a=1', 'cookie: b=2',
  'X-Forwarded-For: 10.0.0.1', 'Forwarded: for=1.2.3.4', 'Expect: 100-continue', 'X-A: b', 'X-Empty:', 'x-sp:  v  ',
];
const DICTIONARY = [...LINES, ...FIELDS, '\r\n', ':', ' ', ',', 'chunked', 'trailers', 'http://', '/'];
const ADDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'content-length', 'te'];
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host'];

function generate(f: Fuzzer): Buffer {
  let head = `${f.pick(LINES)}\r\n`;
  for (let n = f.int(7); n > 0; n--) head += `${f.pick(FIELDS)}\r\n`;
  const text = Buffer.from(`${head}\r\n`, 'latin1');
  return f.int(3) === 0 ? f.mutate(text, DICTIONARY) : text;
}

function check(input: Buffer): boolean {
  const text = input.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  let req: RequestHead;
  try {
    req = parseRequestHead(text.slice(0, end + 4), limits, true);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return false;
  }
  const forwarding = { forwarded: 'both', client: '192.0.2.1', https: false, memberHost: 'm.example:80', close: true } as const;
  const head = memberRequestHead(req, forwarding);
  const out = memberRequestHeaders(head.slice(0, -2), 'http');
  // the list made from the request as read is the one its head's text gives (and with a route's rewritten target, or other forwarded fields)
  assert.deepEqual(memberRequestList(req, forwarding, 'http'), out);
  for (const other of [{ ...forwarding, forwarded: 'x-forwarded', target: '/rewritten?q=1' }, { ...forwarding, forwarded: 'none', https: true }] as const) {
    assert.deepEqual(memberRequestList(req, other, 'https'), memberRequestHeaders(memberRequestHead(req, other).slice(0, -2), 'https'));
  }
  // raw pairs, pseudo-headers first (HTTP/2 sends them before any field), as an object to check
  const h: Record<string, string | string[]> = {};
  let fields = false;
  for (let i = 0; i < out.headers.length; i += 2) {
    const [name, value] = [out.headers[i], out.headers[i + 1]];
    if (name.startsWith(':')) assert.ok(!fields, `${name} after a field`);
    else fields = true;
    const had = h[name];
    h[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  assert.equal(out.method, req.method);
  assert.equal(h[':method'], req.method);
  assert.equal(h[':scheme'], 'http');
  assert.equal(h[':authority'], req.host ?? 'm.example:80');
  const path = String(h[':path']);
  assert.ok(path === '*' || path.startsWith('/') || req.method === 'CONNECT', `:path ${JSON.stringify(path)} of ${JSON.stringify(req.target)}`);
  assert.equal(out.chunked, req.chunked);
  assert.equal(out.length, req.chunked ? -1 : req.contentLength);
  for (const [name, value] of Object.entries(h)) {
    if (name.startsWith(':')) continue;
    assert.match(name, TOKEN);
    assert.ok(!CONNECTION_SPECIFIC.includes(name), `${name} went to the member`);
    for (const v of Array.isArray(value) ? value : [value]) assert.ok(!/[\r\n\x00]/.test(String(v)), JSON.stringify(v));
  }
  if (h.te !== undefined) assert.equal(h.te, 'trailers');
  // nothing but what the request carried end to end, and what furiwake adds
  const carried = req.fields.toLowerCase();
  for (const name of Object.keys(h)) {
    if (name.startsWith(':') || ADDED.includes(name)) continue;
    assert.ok(carried.includes(`${name}:`), `${name} is not the request's`);
  }
  return true;
}

const RESPONSE_NAMES = [
  'content-type', 'set-cookie', 'x-a', 'grpc-status', 'grpc-message', 'grpc-status-details-bin', 'te', 'trailer', 'connection',
  'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'location', ':status', ':path',
];
const NOT_PASSED = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host', 'content-length', 'te', 'trailer'];
const GRPC_STATUS = ['grpc-status', 'grpc-message', 'grpc-status-details-bin'];
const CODES = [100, 103, 200, 201, 204, 206, 304, 404, 500, 503];
const VALUE_WORDS = ['text/plain', 'a=1; Path=/', '0', '14', 'ok', '\t', ' ', '\u00e9', '\u0001', '\u007f', '\u00ff', ',', '"'];

interface ResponseCase { code: number; method: string; noBody: boolean; length: string | undefined; raw: string[] }

/** A case as bytes (so that mutations reach the values): `code method noBody length` then `name\0value` lines. */
function generateResponse(f: Fuzzer): Buffer {
  let text = `${f.pick(CODES)} ${f.pick(['GET', 'HEAD', 'POST'])} ${f.int(2)} ${f.pick(['-', '0', '3', '12', '1x', ''])}`;
  for (let n = f.int(8); n > 0; n--) {
    let value = '';
    for (let k = f.int(4); k > 0; k--) value += f.pick(VALUE_WORDS);
    text += `\n${f.pick(RESPONSE_NAMES)}\0${value}`;
  }
  const buf = Buffer.from(text, 'latin1');
  return f.int(3) === 0 ? f.mutate(buf, VALUE_WORDS) : buf;
}

function readCase(input: Buffer): ResponseCase | null {
  const lines = input.toString('latin1').split('\n');
  const [code, method, noBody, length] = lines[0].split(' ');
  if (!/^[1-5]\d\d$/.test(code ?? '') || method === undefined || noBody === undefined) return null;
  const raw: string[] = [];
  for (const line of lines.slice(1)) {
    const nul = line.indexOf('\0');
    // names as nghttp2 passes them (lowercase tokens, or a pseudo-header); values without CR or NUL (nor LF: the separator)
    if (nul === -1 || !/^:?[a-z0-9-]+$/.test(line.slice(0, nul)) || /[\r\0]/.test(line.slice(nul + 1))) return null;
    raw.push(line.slice(0, nul), line.slice(nul + 1));
  }
  return { code: Number(code), method, noBody: noBody === '1', length: length === '-' ? undefined : length, raw };
}

function checkResponse(input: Buffer): boolean {
  const c = readCase(input);
  if (c === null) return false;
  let out: MemberResponse;
  try {
    out = memberResponseHead(c.code, c.raw, c.length, c.noBody, c.method);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    assert.equal(err.status, 502);
    return false;
  }
  const { head, trailers } = out;
  const bodiless = c.method === 'HEAD' || c.code === 204 || c.code === 304 || c.code < 200;
  const grpcOnly = c.noBody && !bodiless && c.raw.some((v, i) => i % 2 === 0 && v === 'grpc-status');
  assert.equal(trailers !== null, grpcOnly);
  // the fields kept: the list's own, in order, as lines a client may be sent
  const expected: string[] = [];
  const status: string[] = [];
  for (let i = 0; i < c.raw.length; i += 2) {
    const name = c.raw[i];
    if (name.startsWith(':') || NOT_PASSED.includes(name)) continue;
    if (grpcOnly && GRPC_STATUS.includes(name)) status.push(`${name}: ${c.raw[i + 1]}\r\n`);
    else expected.push(`${name}: ${c.raw[i + 1]}\r\n`);
  }
  assert.equal(head.fields, expected.join(''));
  if (grpcOnly) assert.equal(trailers, status.join(''));
  assert.ok(!/[\x00-\x08\x0a-\x1f\x7f]/.test(head.fields.replace(/\r\n/g, '')), JSON.stringify(head.fields));
  assert.equal(head.status, c.code);
  // the framing
  const length = c.length === undefined ? -1 : Number(c.length);
  if (bodiless) assert.equal(head.body, 'none');
  else if (grpcOnly) assert.equal(head.body, 'chunked');
  else if (length !== -1) assert.deepEqual([head.body, head.contentLength], ['length', length]);
  else assert.deepEqual([head.body, head.contentLength], c.noBody ? ['length', 0] : ['chunked', -1]);
  assert.equal(head.transferEncoding, head.body === 'chunked' ? 'chunked' : null);
  return true;
}

const UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000001 };

describe('HTTP/2 member translation fuzzing', () => {
  it(`request heads: ${fuzzCount(INPUTS)} random heads`, () => {
    let accepted = 0;
    fuzz(0x42a2c, fuzzCount(INPUTS), generate, (input) => {
      if (check(input)) accepted++;
    });
    assert.ok(accepted > fuzzCount(INPUTS) / 10, `${accepted} accepted`);
  });

  it(`response header lists: ${fuzzCount(INPUTS)} random lists`, () => {
    let accepted = 0;
    fuzz(0x2e5b, fuzzCount(INPUTS), generateResponse, (input) => {
      if (checkResponse(input)) accepted++;
    });
    assert.ok(accepted > fuzzCount(INPUTS) / 10, `${accepted} accepted`);
  });

  it(`grpc-timeout: ${fuzzCount(INPUTS)} random values`, () => {
    const chars = '0123456789HMSmunx -+.';
    fuzz(0x96c, fuzzCount(INPUTS), (f) => {
      let v = '';
      for (let n = f.int(12); n > 0; n--) v += chars[f.int(chars.length)];
      return Buffer.from(v, 'latin1');
    }, (input) => {
      const v = input.toString('latin1');
      const ms = grpcTimeout(v);
      const valid = /^\d{1,8}[HMSmun]$/.test(v);
      if (!valid) return assert.equal(ms, -1, v);
      assert.equal(ms, Math.max(1, Math.ceil(Number(v.slice(0, -1)) * UNITS[v.slice(-1)])), v);
    });
  });
});

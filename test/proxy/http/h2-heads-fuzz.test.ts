// The HTTP/2 request translation fuzzed: random header lists, as nghttp2 lets them through
// (lowercase names, values without CR, LF or NUL, pseudo-headers anywhere), written as an
// HTTP/1.1 head and read by the HTTP/1.1 parser. Whatever comes, the pair returns a request or
// refuses it with an HttpError; what it accepts has clean lines, none of the connection-specific
// fields, the Host of :authority (else host), one cookie field, and a framing for its body.
// The response side too: member heads (mutated from a grammar) read by parseResponseHead, and
// the header list responseHeaders splits out of the fields it kept, checked against the strict
// line reader's reading of the same fields.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headBytesOf, requestHeadText, responseHeaders } from '../../../src/proxy/http/h2-heads.ts';
import { nameOf, readHeaderLines, valueOf } from '../../../src/proxy/http/header-lines.ts';
import { parseResponseHead, type ResponseHead } from '../../../src/proxy/http/response-head.ts';
import { memberRequestHead } from '../../../src/proxy/http/head-writer.ts';
import { parseRequestHead, type RequestHead } from '../../../src/proxy/http/request-head.ts';
import { HttpError } from '../../../src/proxy/http/responses.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../../helpers/fuzz.ts';

const INPUTS = 20_000;
const limits = { requestLine: 8192, headers: 32768 };
const NAMES = [
  ':method', ':path', ':authority', ':scheme', ':status', 'host', 'cookie', 'content-length', 'transfer-encoding', 'connection',
  'keep-alive', 'proxy-connection', 'upgrade', 'te', 'http2-settings', 'x-forwarded-for', 'forwarded', 'expect', 'accept', 'x-a',
];
const VALUES = [
  'GET', 'POST', 'CONNECT', 'OPTIONS', '/', '/a?b=c', '*', 'http://a/', 'a.example', 'a.example:8443', '[::1]:80', 'a:b:c', '',
  '5', '-1', '00', '99999999999999999', 'chunked', 'trailers', 'close', 'a=1', 'b=2; c=3', '100-continue', 'for=a', '10.0.0.1',
];
/** what nghttp2 lets through in a value: no CR, LF or NUL */
const VALUE_CHARS = ' \t!"#$%&\'()*+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~\x7f\x80\xff\x01';
const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings'];

function value(f: Fuzzer): string {
  if (f.int(3) > 0) return f.pick(VALUES);
  let v = '';
  for (let n = f.int(12); n > 0; n--) v += VALUE_CHARS[f.int(VALUE_CHARS.length)];
  return v;
}

/** A header list (pseudo-headers usually first and complete, as clients send them), NUL-separated, then the body flag. */
function generate(f: Fuzzer): Buffer {
  const pairs: string[] = [];
  if (f.int(4) > 0) pairs.push(':method', f.pick(['GET', 'POST', 'PUT', 'HEAD']), ':scheme', 'https', ':path', f.pick(['/', '/x?y=1', '*']), ':authority', f.pick(VALUES));
  for (let n = f.int(8); n > 0; n--) pairs.push(f.pick(NAMES), value(f));
  return Buffer.from(`${pairs.join('\x00')}\x00${f.int(2)}`, 'latin1');
}

function check(input: Buffer): boolean {
  const parts = input.toString('latin1').split('\x00');
  const hasBody = parts.pop() === '1';
  const raw = parts.length % 2 === 0 ? parts : parts.slice(0, -1);
  const text = requestHeadText(raw, hasBody);
  // read from the reused buffer of headBytesOf (as the stream reads it), and alike from the text alone
  const read = (bytes: Buffer | null): RequestHead | HttpError => {
    try {
      return parseRequestHead(text, limits, true, bytes);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      return err;
    }
  };
  const req = read(headBytesOf(text));
  assert.deepEqual(read(null), req);
  if (req instanceof HttpError) {
    assert.ok(req.status >= 400 && req.status < 600, `status ${req.status}`);
    return false;
  }
  const authority = raw.findIndex((x, i) => i % 2 === 0 && x === ':authority');
  const host = raw.findIndex((x, i) => i % 2 === 0 && x === 'host');
  assert.equal(req.host, authority !== -1 ? raw[authority + 1] : raw[host + 1]);
  const out = memberRequestHead(req, { forwarded: 'x-forwarded', client: '192.0.2.1', https: true, memberHost: 'm', close: false });
  assert.ok(out.endsWith('\r\n\r\n'));
  const lines = out.slice(0, -4).split('\r\n');
  for (const line of lines) assert.ok(!/[\r\n\x00]/.test(line), JSON.stringify(line));
  const names = lines.slice(1).map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
  for (const name of CONNECTION_SPECIFIC) if (name !== 'transfer-encoding') assert.ok(!names.includes(name), `${name} went to the member`);
  assert.ok(names.filter((n) => n === 'cookie').length <= 1, 'one cookie field');
  assert.ok(names.filter((n) => n === 'host').length === 1, 'one host field');
  if (hasBody) assert.ok(req.chunked || req.contentLength >= 0, 'a body has a framing');
  else assert.ok(!req.chunked, 'no body, no chunks');
  return true;
}

describe('HTTP/2 request translation fuzzing', () => {
  it(`header lists: ${fuzzCount(INPUTS)} random lists`, () => {
    let accepted = 0;
    fuzz(0x5eed2a, fuzzCount(INPUTS), generate, (input) => {
      if (check(input)) accepted++;
    });
    assert.ok(accepted > fuzzCount(INPUTS) / 20, `${accepted} accepted`);
  });
});

const RESPONSE_NAMES = [
  'Server', 'Date', 'Content-Type', 'content-length', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Keep-Alive', 'HOST', 'Host',
  'Upgrade', 'TE', 'Trailer', 'Proxy-Connection', 'HTTP2-Settings', 'Set-Cookie', 'X-A', 'x-b', 'Grpc-Status', 'Vary',
];
const RESPONSE_VALUES = ['nginx', ' ok ', '\tx\t', 'text/plain', '3', '0', 'chunked', 'close', 'keep-alive', 'x-a, x-b', 'a=1', '', 'a b'];

/** A member's response head: a status line and field lines, sometimes mutated with the grammar's words. */
function generateResponse(f: Fuzzer): Buffer {
  let head = `HTTP/1.${f.int(2)} ${f.pick(['200', '204', '304', '404', '502'])} ${f.pick(['OK', '', 'x'])}\r\n`;
  for (let n = f.int(9); n > 0; n--) head += `${f.pick(RESPONSE_NAMES)}:${f.pick(['', ' ', '\t'])}${f.pick(RESPONSE_VALUES)}\r\n`;
  const input = Buffer.from(`${head}\r\n`, 'latin1');
  return f.int(3) === 0 ? f.mutate(input, [...RESPONSE_NAMES, ':', '\r\n', ' ', '\t', '\x00']) : input;
}

/** The pairs the strict reader finds in `fields`, names lowercased, the connection-specific ones left out. */
function strictPairs(fields: string): string[] {
  const lines = readHeaderLines(fields, 0, fields.length, 502, Infinity);
  const out: string[] = [];
  for (let i = 0; i < lines.count; i++) {
    const name = nameOf(fields, lines, i);
    if (![...CONNECTION_SPECIFIC, 'host', 'trailer', 'content-length'].includes(name)) out.push(name, valueOf(fields, lines, i));
  }
  return out;
}

function checkResponse(input: Buffer): boolean {
  const text = input.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  let res: ResponseHead;
  try {
    res = parseResponseHead(text.slice(0, end + 4), 'GET');
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return false;
  }
  const list = responseHeaders(res);
  assert.equal(list[0], ':status');
  assert.equal(list[1], String(res.status));
  let rest = list.slice(2);
  if (rest.length >= 2 && rest[rest.length - 2] === 'content-length') {
    assert.equal(rest[rest.length - 1], String(res.contentLength));
    rest = rest.slice(0, -2);
  }
  // names as the member spelled them (respond() lowercases them), values as the strict reader reads them
  assert.deepEqual(rest.map((x, i) => (i % 2 === 0 ? x.toLowerCase() : x)), strictPairs(res.fields));
  for (let i = 0; i < rest.length; i += 2) assert.ok(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(rest[i]), rest[i]);
  return true;
}

describe('HTTP/2 response translation fuzzing', () => {
  it(`member heads: ${fuzzCount(INPUTS)} random heads`, () => {
    let accepted = 0;
    fuzz(0x5eed2b, fuzzCount(INPUTS), generateResponse, (input) => {
      if (checkResponse(input)) accepted++;
    });
    assert.ok(accepted > fuzzCount(INPUTS) / 4, `${accepted} accepted`);
  });
});

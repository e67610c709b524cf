// The grammar checks of the HTTP/1.1 heads, fuzzed against the regular expressions they
// replaced (kept here as their specification): the host, token, digits and status-line checks
// accept exactly what those did. And a head read from its bytes (as the connections read it,
// in place) gives the same result, or the same refusal, as the same head read from its text.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDigits, isHost, isToken, parseRequestHead } from '../../../src/proxy/http/request-head.ts';
import { parseResponseHead } from '../../../src/proxy/http/response-head.ts';
import { HttpError } from '../../../src/proxy/http/responses.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../../helpers/fuzz.ts';

const INPUTS = 40_000;

const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]*)(?::\d{0,5})?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DIGITS = /^\d{1,15}$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;

/** Characters the grammars turn on, and a few that none allows. */
const PIECES = [
  '[', ']', ':', '.', '0', '9', '1', 'a', 'F', 'g', 'Z', '%', '!', '$', '&', "'", '(', ')', '*', '+', ',', ';', '=', '-', '_', '~',
  '@', '/', '?', '#', ' ', '\t', '\r', '\n', '\x00', '\x7f', '\x80', '\xff', '"', '\\', '^', '`', '|', '{', '::1', '127.0.0.1',
  '[::1]', '[2001:db8::1]', ':8080', ':123456', 'example.com', 'HTTP/1.1 ', 'HTTP/1.0 ', 'HTTP/2.0 ', '200', '404 Not Found', ' OK', '099',
];

function text(f: Fuzzer): string {
  let out = '';
  const n = f.int(8);
  for (let i = 0; i < n; i++) out += f.int(8) === 0 ? String.fromCharCode(f.int(256)) : f.pick(PIECES);
  return out;
}

/** fuzz() hands on bytes: the text as latin1 */
const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

function statusOf(line: string): { status: number; reason: string; minor: number } | null {
  try {
    const res = parseResponseHead(`${line}\r\n\r\n`, 'GET');
    return { status: res.status, reason: res.reason, minor: res.minor };
  } catch (err) {
    if (!(err instanceof HttpError) || err.status !== 502) throw err;
    return null;
  }
}

/** A parse's result, or its refusal, in a form deepEqual compares. */
function outcome(parse: () => unknown): unknown {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return { status: err.status, message: err.message };
  }
}

describe('http/1.1 grammar checks', () => {
  it(`host, token and digits: ${fuzzCount(INPUTS)} strings each accepted as the regular expressions did`, () => {
    let hosts = 0;
    fuzz(0x6a11, fuzzCount(INPUTS), (f) => latin1(text(f)), (input) => {
      const s = input.toString('latin1');
      assert.equal(isHost(s), HOST.test(s), `host ${JSON.stringify(s)}`);
      assert.equal(isToken(s, 0, s.length), TOKEN.test(s), `token ${JSON.stringify(s)}`);
      assert.equal(isDigits(s), DIGITS.test(s), `digits ${JSON.stringify(s)}`);
      if (HOST.test(s)) hosts++;
    });
    assert.ok(hosts > fuzzCount(INPUTS) / 20, `${hosts} hosts accepted`);
  });

  it(`status lines: ${fuzzCount(INPUTS)} lines read as the regular expression did`, () => {
    let accepted = 0;
    fuzz(0x6a12, fuzzCount(INPUTS), (f) => latin1((f.int(2) === 0 ? 'HTTP/1.1 200' : '') + text(f)), (input) => {
      const line = input.toString('latin1');
      const m = STATUS_LINE.exec(line);
      // (a line with CRLF in it is another head: only the first line counts)
      if (line.includes('\r\n')) return;
      const got = statusOf(line);
      assert.deepEqual(got, m === null ? null : { status: Number(m[2]), reason: m[3] ?? '', minor: Number(m[1]) }, JSON.stringify(line));
      if (got !== null) accepted++;
    });
    assert.ok(accepted > fuzzCount(INPUTS) / 20, `${accepted} accepted`);
  });

  it(`heads read from their bytes as from their text: ${fuzzCount(INPUTS)} heads`, () => {
    const limits = { requestLine: 8192, headers: 32768 };
    const seeds = [
      'GET / HTTP/1.1\r\nHost: a.example\r\nX-A:  b \t\r\nConnection: keep-alive, X-A\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
    ].map((s) => Buffer.from(s, 'latin1'));
    fuzz(0x6a13, fuzzCount(INPUTS), (f) => f.mutate(f.pick(seeds), PIECES), (input) => {
      const at = input.indexOf('\r\n\r\n');
      const raw = at === -1 ? Buffer.concat([input, Buffer.from('\r\n\r\n')]) : input;
      const head = raw.toString('latin1', 0, at === -1 ? raw.length : at + 4);
      // the bytes may run on past the head, as a read does
      const withMore = Buffer.concat([raw, Buffer.from('GET')]);
      if (head.startsWith('HTTP/')) assert.deepEqual(outcome(() => parseResponseHead(head, 'GET', withMore)), outcome(() => parseResponseHead(head, 'GET')));
      else assert.deepEqual(outcome(() => parseRequestHead(head, limits, true, withMore)), outcome(() => parseRequestHead(head, limits, true)));
    });
  });
});

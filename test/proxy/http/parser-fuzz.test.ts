// The HTTP/1.1 readers fuzzed in process: the request-head parser, the response-head parser and
// the chunked body framer, each fed mutations of valid messages spliced with grammar words.
// Whatever comes, a reader returns a result or refuses with an HttpError (never another throw),
// and what it accepts is sound: written out again by head-writer it holds no CR, LF or NUL
// inside a field and reads back the same; lengths are safe non-negative integers; the framer
// never hands on more bytes than it was given, and reads a body (its trailers too) the same in any
// split; the trailers it gathers are those of the body, and read back the same.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyFramer } from '../../../src/proxy/http/body-framer.ts';
import { clientResponseHead, memberRequestHead } from '../../../src/proxy/http/head-writer.ts';
import { parseRequestHead, type RequestHead } from '../../../src/proxy/http/request-head.ts';
import { parseResponseHead, type ResponseHead } from '../../../src/proxy/http/response-head.ts';
import { HttpError } from '../../../src/proxy/http/responses.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../../helpers/fuzz.ts';

const INPUTS = 30_000;
const limits = { requestLine: 8192, headers: 32768 };

const DICTIONARY = [
  '\r\n', '\r\n\r\n', '\n', '\r', ':', ' ', '\t', '\x00', '\x0b', ',', ';', '=', '"', '\\', '@', '#', '?', '*', '%', '/',
  'Transfer-Encoding', 'Transfer-Encoding: chunked\r\n', 'chunked', 'identity', 'Content-Length', 'Content-Length: 5\r\n',
  '0', '5', '00', '15', 'ffffffffffffffff', '-1', '+', '0x', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'Host', 'Host: a\r\n', 'Connection: ',
  'close', 'keep-alive', 'upgrade', 'Upgrade: websocket\r\n', 'h2c', 'http://', 'https://a:443', 'Expect: 100-continue\r\n',
  'X-Forwarded-For: 10.0.0.1\r\n', 'Forwarded: for=a\r\n', 'Trailer: x\r\n', 'TE: trailers\r\n', ' \r\n', '\xff',
];

/** A refusal must be an HttpError with an HTTP status; anything else thrown fails the case. */
function refusal(err: unknown, statuses: readonly number[]): void {
  if (!(err instanceof HttpError)) throw err;
  assert.ok(statuses.includes(err.status), `status ${err.status}: ${err.message}`);
}

/** Each line of a head (but the last, empty one) ends with CRLF and holds no CR, LF or NUL. */
function cleanLines(head: string): void {
  assert.ok(head.endsWith('\r\n\r\n'), 'the head ends with its blank line');
  for (const line of head.slice(0, -4).split('\r\n')) {
    assert.ok(!/[\r\n\x00]/.test(line), `a line with CR, LF or NUL: ${JSON.stringify(line)}`);
  }
}

function safeLength(n: number): void {
  assert.ok(n === -1 || (Number.isSafeInteger(n) && n >= 0), `length ${n}`);
}

/** The head part of a mutated message: up to its first blank line, or all of it with one added. */
function asHead(input: Buffer): string {
  const text = input.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  return end === -1 ? `${text}\r\n\r\n` : text.slice(0, end + 4);
}

const REQUESTS = [
  'GET / HTTP/1.1\r\nHost: a.example\r\n\r\n',
  'POST /upload?x=1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n',
  'PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n',
  'GET http://a.example:8080/p HTTP/1.1\r\nHost: a.example:8080\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n',
  'GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Forwarded-For: 10.0.0.1\r\nForwarded: for=10.0.0.1\r\n\r\n',
  'OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
];

const RESPONSES = [
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n',
  'HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\n',
  'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\n\r\n',
  'HTTP/1.1 100 Continue\r\n\r\n',
];

const BODIES = [
  '5\r\nhello\r\n0\r\n\r\n',
  '5;a=b;c="d;e"\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\nX-Other: two words\r\n\r\nGET /next HTTP/1.1\r\n',
  'a \r\n0123456789\r\n0\r\n\r\n',
  '00000f\r\n0123456789abcde\r\n0;last\r\n\r\n',
];

function generator(seeds: readonly string[]): (f: Fuzzer) => Buffer {
  const buffers = seeds.map((s) => Buffer.from(s, 'latin1'));
  return (f) => {
    let input = f.mutate(f.pick(buffers), DICTIONARY);
    // now and then a second round, to reach two edits apart
    if (f.int(4) === 0) input = f.mutate(input, DICTIONARY);
    return input;
  };
}

const REQUEST_STATUSES = [400, 405, 414, 417, 431, 501, 505];

function checkRequest(req: RequestHead): void {
  assert.match(req.method, /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/);
  assert.match(req.target, /^[!-~]+$/, 'a target of visible characters only');
  assert.ok(req.target === '*' || req.target.startsWith('/'), `origin-form or *: ${req.target}`);
  safeLength(req.contentLength);
  assert.ok(!(req.chunked && req.contentLength !== -1), 'never both framings');
  if (req.host !== null) assert.ok(!/[\s\x00-\x1f\x7f]/.test(req.host), `host ${JSON.stringify(req.host)}`);
  for (const value of [req.forwardedFor, req.forwarded, req.upgrade]) {
    if (value !== null) assert.ok(!/[\r\n\x00]/.test(value));
  }
  for (const ctx of [
    { forwarded: 'both', client: '192.0.2.1', https: false, memberHost: '10.0.0.1:80', close: false },
    { forwarded: 'none', client: '2001:db8::1', https: true, memberHost: '[2001:db8::2]:443', close: true },
  ] as const) {
    const head = memberRequestHead(req, ctx);
    cleanLines(head);
    // what goes to a member reads back the same, and as strictly
    const again = parseRequestHead(head, { requestLine: 65536, headers: 1 << 20 }, false);
    assert.deepEqual(
      [again.method, again.target, again.contentLength, again.chunked, again.upgrade, again.minor],
      [req.method, req.target, req.contentLength, req.chunked, req.upgrade, 1],
    );
    // the same host, give or take a default port (absolute-form with `Host: a:80`)
    const plain = (host: string): string => host.toLowerCase().replace(/:(80|443)$/, '');
    assert.equal(plain(again.host ?? ''), plain(req.host ?? ctx.memberHost));
  }
}

function checkResponse(res: ResponseHead, method: string): void {
  assert.ok(Number.isInteger(res.status) && res.status >= 100 && res.status <= 999);
  safeLength(res.contentLength);
  assert.ok(['none', 'length', 'chunked', 'close'].includes(res.body));
  assert.ok(!/[\r\n\x00]/.test(res.reason));
  for (const framing of [{ minor: 1, close: false, dechunk: false }, { minor: 0, close: true, dechunk: res.body === 'chunked' }]) {
    const head = clientResponseHead(res, framing);
    cleanLines(head);
    const again = parseResponseHead(head, method);
    assert.equal(again.status, res.status);
    if (res.body === 'length') assert.equal(again.contentLength, res.contentLength);
  }
}

/** Feeds `input` to a fresh chunked framer in pieces cut at `cuts`; what it made of it. */
function frame(input: Buffer, cuts: readonly number[]): { stop: number; done: boolean; payload: number; seen: number; trailers: string } | { error: string } {
  const framer = new BodyFramer().chunked(400, 1024).keepTrailers();
  let payload = 0;
  const sink = (buf: Buffer, start: number, end: number): void => {
    assert.ok(buf === input && start >= 0 && start <= end && end <= input.length, 'the payload lies within what was given');
    payload += end - start;
  };
  let start = 0;
  try {
    for (const cut of [...cuts, input.length]) {
      const end = Math.max(start, cut);
      const stop = framer.feed(input, start, end, sink);
      assert.ok(stop >= start && stop <= end, `stop ${stop} outside [${start}, ${end}]`);
      if (framer.done) {
        assert.equal(framer.feed(input, stop, input.length, sink), stop, 'a finished body takes nothing more');
        checkTrailers(framer.trailers, input.toString('latin1', 0, stop));
        return { stop, done: true, payload, seen: framer.seen, trailers: framer.trailers };
      }
      start = end;
    }
  } catch (err) {
    refusal(err, [400]);
    return { error: (err as HttpError).message };
  }
  assert.ok(payload <= input.length && framer.seen === input.length);
  return { stop: input.length, done: false, payload, seen: framer.seen, trailers: framer.trailers };
}

/** Trailers gathered from `body` are its last field lines, each ending in CRLF, and read back the same. */
function checkTrailers(trailers: string, body: string): void {
  assert.ok(body.endsWith(`\r\n${trailers}\r\n`), 'the trailers are the body\'s last lines');
  if (trailers === '') return;
  assert.ok(trailers.endsWith('\r\n'));
  for (const line of trailers.slice(0, -2).split('\r\n')) assert.match(line, /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\r\n\x00]*$/);
  const again = `0\r\n${trailers}\r\n`;
  const framer = new BodyFramer().chunked(400, 1024).keepTrailers();
  assert.equal(framer.feed(Buffer.from(again, 'latin1'), 0, again.length), again.length);
  assert.ok(framer.done);
  assert.equal(framer.trailers, trailers);
}

describe('parser fuzzing', () => {
  it(`request heads: ${fuzzCount(INPUTS)} mutated heads`, () => {
    let accepted = 0;
    fuzz(0x5eed01, fuzzCount(INPUTS), generator(REQUESTS), (input) => {
      let req: RequestHead;
      try {
        req = parseRequestHead(asHead(input), limits, input.length % 2 === 0);
      } catch (err) {
        return refusal(err, REQUEST_STATUSES);
      }
      accepted++;
      checkRequest(req);
    });
    // the mutations must reach both sides of the parser
    assert.ok(accepted > fuzzCount(INPUTS) / 20, `${accepted} accepted`);
  });

  it(`response heads: ${fuzzCount(INPUTS)} mutated heads`, () => {
    let accepted = 0;
    fuzz(0x5eed02, fuzzCount(INPUTS), generator(RESPONSES), (input) => {
      const method = input.length % 3 === 0 ? 'HEAD' : 'GET';
      let res: ResponseHead;
      try {
        res = parseResponseHead(asHead(input), method);
      } catch (err) {
        return refusal(err, [502]);
      }
      accepted++;
      checkResponse(res, method);
    });
    assert.ok(accepted > fuzzCount(INPUTS) / 20, `${accepted} accepted`);
  });

  it(`chunked bodies: ${fuzzCount(INPUTS)} mutated bodies, each read whole and in pieces`, () => {
    let done = 0;
    let withTrailers = 0;
    const cutsOf = new Map<Buffer, number[]>();
    fuzz(0x5eed03, fuzzCount(INPUTS), (f) => {
      const input = generator(BODIES)(f);
      const cuts = Array.from({ length: f.int(4) }, () => f.int(input.length + 1)).sort((a, b) => a - b);
      cutsOf.set(input, cuts);
      return input;
    }, (input) => {
      const cuts = cutsOf.get(input)!;
      cutsOf.delete(input);
      const whole = frame(input, []);
      // the same bytes in other pieces: the same body, or the same refusal
      assert.deepEqual(frame(input, cuts), whole);
      if ('done' in whole && whole.done) {
        done++;
        if (whole.trailers !== '') withTrailers++;
        assert.ok(whole.payload <= whole.stop, 'never more payload than bytes taken');
      }
    });
    assert.ok(done > fuzzCount(INPUTS) / 20, `${done} bodies read to their end`);
    assert.ok(withTrailers > fuzzCount(INPUTS) / 100, `${withTrailers} bodies with trailers read to their end`);
  });
});

// The HTTP/1.1 readers on their own: request heads, response heads, body framing. Each
// malformed shape must be refused with the right status, never read one way or another.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyFramer } from '../../../src/proxy/http/body-framer.ts';
import { clientResponseHead, memberRequestHead } from '../../../src/proxy/http/head-writer.ts';
import { parseRequestHead, type RequestHead } from '../../../src/proxy/http/request-head.ts';
import { parseResponseHead } from '../../../src/proxy/http/response-head.ts';
import { HttpError } from '../../../src/proxy/http/responses.ts';

const limits = { requestLine: 8192, headers: 32768 };

function request(text: string, rewrite = true): RequestHead {
  return parseRequestHead(text, limits, rewrite);
}

function refused(text: string, status: number, message?: RegExp): void {
  assert.throws(() => request(text), (err: unknown) => {
    assert.ok(err instanceof HttpError, String(err));
    assert.equal(err.status, status, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

describe('request heads', () => {
  it('reads the request line, the framing and the fields to forward', () => {
    const req = request('POST /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nX-Thing:  v  \r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n\r\n');
    assert.equal(req.method, 'POST');
    assert.equal(req.target, '/a/b?c=d');
    assert.equal(req.minor, 1);
    assert.equal(req.host, 'example.com');
    assert.equal(req.contentLength, 5);
    assert.equal(req.chunked, false);
    assert.equal(req.keepAlive, true);
    assert.equal(req.fields, 'Host: example.com\r\nX-Thing:  v  \r\n');
  });

  it('knows when the client wants to close, and HTTP/1.0 keep-alive', () => {
    assert.equal(request('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n').keepAlive, false);
    assert.equal(request('GET / HTTP/1.0\r\n\r\n').keepAlive, false);
    assert.equal(request('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive, true);
  });

  it('sees an upgrade only with Connection: upgrade, and never to h2c', () => {
    assert.equal(request('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n').upgrade, 'websocket');
    const h2c = request('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n');
    assert.deepEqual([h2c.upgrade, h2c.fields], [null, 'Host: a\r\n']);
    assert.equal(request('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').upgrade, null);
  });

  it('keeps the forwarded fields apart when it rewrites them, in the fields when not', () => {
    const text = 'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nForwarded: for=10.0.0.1\r\n\r\n';
    const req = request(text);
    assert.equal(req.forwardedFor, '10.0.0.1, 10.0.0.2');
    assert.equal(req.forwarded, 'for=10.0.0.1');
    assert.equal(req.fields, 'Host: a\r\n');
    assert.match(request(text, false).fields, /X-Forwarded-For: 10.0.0.2/);
  });

  it('refuses every ambiguous framing', () => {
    refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', 400, /both/);
    refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n', 400, /more than one/);
    refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 400);
    refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n', 400, /invalid Content-Length/);
    refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n', 400);
    refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n', 400);
    refused('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 501);
    refused('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 501);
    refused('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 501);
    refused('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n', 501);
    refused('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400);
    refused('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n', 400, /header name/);
    refused('POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\nContent-Length: 3\r\n\r\n', 400, /Connection names/);
  });

  it('refuses folded lines, bare CR or LF and control characters', () => {
    refused('GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  folded\r\n\r\n', 400, /obs-fold/);
    refused('GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\nX-B: 2\r\n\r\n', 400, /control/);
    refused('GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\rX-B: 2\r\n\r\n', 400, /bare CR/);
    refused('GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n', 400);
    refused('GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x0bb\r\n\r\n', 400);
    refused('GET / HTTP/1.1\r\nHost: a\r\nX A: 1\r\n\r\n', 400, /header name/);
    refused('GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n', 400, /header name/);
    refused('GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n', 400, /colon/);
  });

  it('refuses a malformed request line, Host and version', () => {
    refused('GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400);
    refused('GET / HTTP/1.1 \r\nHost: a\r\n\r\n', 400);
    refused('GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 400);
    refused('GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n', 400);
    refused('G@T / HTTP/1.1\r\nHost: a\r\n\r\n', 400, /method/);
    refused('GET a HTTP/1.1\r\nHost: a\r\n\r\n', 400, /target/);
    refused('GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505);
    refused('GET / HTTP/1.1x\r\nHost: a\r\n\r\n', 400);
    refused('GET / HTTP/1.1\r\n\r\n', 400, /no Host/);
    refused('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, /more than one Host/);
    refused('GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400, /invalid Host/);
    refused('CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n', 405);
    refused('GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n', 417);
  });

  it('limits the request line (414)', () => {
    refused(`GET /${'a'.repeat(8192)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414);
  });

  it('accepts absolute-form (as origin-form, the authority as Host) and OPTIONS *', () => {
    const abs = request('GET http://a/x?y HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.deepEqual([abs.target, abs.host, abs.hostField], ['/x?y', 'a', true]);
    assert.equal(request('GET HTTP://A:80 HTTP/1.1\r\nHost: a\r\n\r\n').target, '/');
    assert.equal(request('OPTIONS https://a HTTP/1.1\r\nHost: a:443\r\n\r\n').target, '*');
    const old = request('GET http://a.example/x HTTP/1.0\r\n\r\n');
    assert.deepEqual([old.host, old.hostField], ['a.example', false]);
    refused('GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n', 400, /differs/);
    refused('GET http://a.example:8080/x HTTP/1.1\r\nHost: a.example\r\n\r\n', 400, /differs/);
    refused('GET http://u@a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n', 400);
    refused('GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n', 400);
    refused('GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n', 400, /fragment/);
    assert.equal(request('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n').target, '*');
  });

  it('reads Host and the authority to their grammar: an IP literal or a name, then a port of digits', () => {
    for (const host of ['a.example', 'a.example:8080', '192.0.2.1:80', '[2001:db8::1]', '[::1]:8443', '', 'a_b.example']) {
      assert.equal(request(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`).host, host);
    }
    for (const host of ['a:b:c', 'a.example:http', 'a.example:999999', '[zz::1]', '2001:db8::1', '[::1', 'a.example:80:80']) {
      refused(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 400, /invalid Host/);
    }
    refused('GET http://a:b:c/x HTTP/1.1\r\nHost: a\r\n\r\n', 400, /invalid authority/);
    assert.equal(request('GET http://[::1]:8080/x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n').host, '[::1]:8080');
  });
});

describe('response heads', () => {
  it('frames by Content-Length, chunked, or the close', () => {
    const r = parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\nX-A: 1\r\n\r\n', 'GET');
    assert.deepEqual([r.status, r.reason, r.body, r.contentLength, r.close, r.fields], [200, 'OK', 'length', 3, false, 'X-A: 1\r\n']);
    const c = parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET');
    assert.deepEqual([c.body, c.transferEncoding], ['chunked', 'chunked']);
    const e = parseResponseHead('HTTP/1.1 200 OK\r\n\r\n', 'GET');
    assert.deepEqual([e.body, e.close], ['close', true]);
    const old = parseResponseHead('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n', 'GET');
    assert.equal(old.close, true);
  });

  it('has no body for HEAD, 1xx, 204 and 304', () => {
    assert.equal(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HEAD').body, 'none');
    // an HTTP/1.0 response has no chunks: Transfer-Encoding there is faulty framing (before: read as chunked)
    assert.throws(() => parseResponseHead('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET'), (e: HttpError) => e.status === 502 && /HTTP\/1\.0/.test(e.message));
    assert.equal(parseResponseHead('HTTP/1.1 204 No Content\r\n\r\n', 'GET').body, 'none');
    assert.equal(parseResponseHead('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', 'GET').body, 'none');
    assert.equal(parseResponseHead('HTTP/1.1 100 Continue\r\n\r\n', 'POST').body, 'none');
    // no reason phrase, with or without the space before it (RFC 9112 4; nginx and HAProxy take both)
    for (const line of ['HTTP/1.1 103', 'HTTP/1.1 103 ']) {
      const r = parseResponseHead(`${line}\r\nLink: </a>\r\n\r\n`, 'GET');
      assert.deepEqual([r.status, r.reason, r.fields, r.body], [103, '', 'Link: </a>\r\n', 'none'], line);
    }
  });

  it('lets Transfer-Encoding win over Content-Length and does not keep that connection', () => {
    const r = parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET');
    assert.deepEqual([r.body, r.close], ['chunked', true]);
    assert.doesNotMatch(clientResponseHead(r, { minor: 1, close: false, dechunk: false }), /content-length/i);
  });

  it('refuses what cannot be framed for certain (502)', () => {
    for (const text of [
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n',
      'HTTP/1.1 2000 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX: \x01\r\n\r\n',
      'ICY 200 OK\r\n\r\n',
    ]) {
      assert.throws(() => parseResponseHead(text, 'GET'), (err: unknown) => err instanceof HttpError && err.status === 502, text);
    }
  });
});

describe('body framing', () => {
  function feedAll(framer: BodyFramer, text: string, pieces = 1): { stop: number; payload: string } {
    const buf = Buffer.from(text, 'latin1');
    let payload = '';
    const sink = (b: Buffer, s: number, e: number): void => void (payload += b.toString('latin1', s, e));
    let at = 0;
    const step = Math.max(1, Math.ceil(buf.length / pieces));
    let stop = 0;
    while (at < buf.length && !framer.done) {
      const end = Math.min(buf.length, at + step);
      stop = framer.feed(buf, at, end, sink);
      at = stop;
      if (stop < end) break;
    }
    return { stop, payload };
  }

  it('counts a Content-Length down and stops at its end', () => {
    const f = new BodyFramer().length(5);
    const { stop, payload } = feedAll(f, 'helloGET /');
    assert.equal(stop, 5);
    assert.equal(payload, 'hello');
    assert.equal(f.done, true);
  });

  it('walks a chunked body in any split, with extensions and trailers', () => {
    const body = '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT';
    for (const pieces of [1, 3, 7, body.length]) {
      const f = new BodyFramer().chunked(400);
      const { stop, payload } = feedAll(f, body, pieces);
      assert.equal(f.done, true, `pieces ${pieces}`);
      assert.equal(stop, body.length - 4);
      assert.equal(payload, 'hello world');
    }
  });

  it('gathers the trailer fields when asked (for a reader of the payload alone), in any split', () => {
    const body = '5\r\nhello\r\n0\r\nX-Trailer: t\r\nserver-timing:x;dur=1\r\n\r\nNEXT';
    for (const pieces of [1, 3, 7, body.length]) {
      const f = new BodyFramer().chunked(502).keepTrailers();
      assert.equal(feedAll(f, body, pieces).payload, 'hello');
      assert.equal(f.trailers, 'X-Trailer: t\r\nserver-timing:x;dur=1\r\n', `pieces ${pieces}`);
    }
    const quiet = new BodyFramer().chunked(502);
    feedAll(quiet, body);
    assert.equal(quiet.trailers, '', 'not gathered unless asked');
  });

  it('refuses bad chunk sizes and framing', () => {
    for (const body of ['x\r\n', '-1\r\n', ' 5\r\nhello\r\n', '5 \r\nhello\r\n', '5\nhello\r\n', '5\r\nhelloX\r\n', '1122334455667788\r\n', '\r\n', '0\r\n: v\r\n\r\n', '0\r\nX: \x01\r\n\r\n']) {
      const f = new BodyFramer().chunked(400);
      assert.throws(() => f.feed(Buffer.from(body, 'latin1'), 0, body.length), (err: unknown) => err instanceof HttpError && err.status === 400, JSON.stringify(body));
    }
  });
});

describe('chunk extensions and trailers', () => {
  function framed(body: string): boolean {
    const f = new BodyFramer().chunked(400, 1024);
    try {
      f.feed(Buffer.from(body, 'latin1'), 0, body.length);
    } catch (err) {
      assert.ok(err instanceof HttpError && err.status === 400, String(err));
      return false;
    }
    assert.equal(f.done, true, JSON.stringify(body));
    return true;
  }

  it('reads extensions to their grammar: name, token or quoted value, whitespace around', () => {
    for (const ext of [';a', ';a=b', ';a=b;c', ';a="x y;\\"z"', ' ;a', ';a ; b = c', ';a="\x80"']) {
      assert.equal(framed(`5${ext}\r\nhello\r\n0\r\n\r\n`), ext !== ' ;a', JSON.stringify(ext));
    }
    for (const ext of [';', ';=b', ';a=', ';a="open', ';a="x\ny"', ';a=b c', ';a b', ';a=\x00', ';a\n', ';a="\r\n0\r\n\r\n"']) {
      assert.equal(framed(`5${ext}\r\nhello\r\n0\r\n\r\n`), false, JSON.stringify(ext));
    }
  });

  it('reads trailer fields as strictly as header fields, and refuses framing fields among them', () => {
    assert.equal(framed('0\r\nX-Checksum: abc\r\nServer-Timing: x;dur=1\r\n\r\n'), true);
    for (const trailer of [
      'GET /smuggled HTTP/1.1', 'X Y: 1', 'X-A : 1', 'X(A): 1', ': 1', 'X-A: a\rb', 'X-A: a\x00', 'X-A: 1\r\n continued',
      'Content-Length: 5', 'transfer-encoding: chunked', 'Host: other', 'Connection: close', 'Authorization: x', 'Content-Type: a/b',
      `X-Big: ${'a'.repeat(1100)}`,
    ]) {
      assert.equal(framed(`0\r\n${trailer}\r\n\r\n`), false, JSON.stringify(trailer));
    }
    assert.equal(framed(`0\r\n${'X-A: 1\r\n'.repeat(201)}\r\n`), false);
    // a member's trailers: the same grammar and framing fields, but no cut for a request-only field
    const response = (trailer: string): boolean => {
      const body = `0\r\n${trailer}\r\n\r\n`;
      try {
        new BodyFramer().chunked(502).feed(Buffer.from(body, 'latin1'), 0, body.length);
        return true;
      } catch (err) {
        assert.ok(err instanceof HttpError && err.status === 502);
        return false;
      }
    };
    assert.deepEqual(['Expires: 0', 'Transfer-Encoding: chunked', 'X A: 1'].map(response), [true, false, false]);
  });
});

describe('heads furiwake writes', () => {
  it('adds the forwarded fields and asks for keep-alive towards the member', () => {
    const req = request('GET /x HTTP/1.1\r\nHost: www.example.com\r\nX-Forwarded-For: 10.1.1.1\r\n\r\n');
    const head = memberRequestHead(req, { forwarded: 'both', client: '192.0.2.7', https: true, memberHost: '10.0.0.1:80', close: false });
    assert.equal(head, 'GET /x HTTP/1.1\r\nHost: www.example.com\r\nx-forwarded-for: 10.1.1.1, 192.0.2.7\r\nx-forwarded-proto: https\r\n' +
      'x-forwarded-host: www.example.com\r\nforwarded: for=192.0.2.7;proto=https;host=www.example.com\r\n\r\n');
  });

  it('sends an absolute-form request in origin-form with the authority as Host', () => {
    const ctx = { forwarded: 'none', client: '192.0.2.7', https: false, memberHost: '10.0.0.1:80', close: false } as const;
    assert.equal(memberRequestHead(request('GET http://a.example/x HTTP/1.0\r\n\r\n'), ctx), 'GET /x HTTP/1.1\r\nhost: a.example\r\n\r\n');
    assert.equal(memberRequestHead(request('GET http://a.example/x HTTP/1.1\r\nHost: A.example\r\n\r\n'), ctx), 'GET /x HTTP/1.1\r\nHost: A.example\r\n\r\n');
  });

  it('quotes an IPv6 client in Forwarded and adds Host for HTTP/1.0', () => {
    const req = request('GET / HTTP/1.0\r\n\r\n');
    const head = memberRequestHead(req, { forwarded: 'forwarded', client: '2001:db8::1', https: false, memberHost: '10.0.0.1:80', close: true });
    assert.equal(head, 'GET / HTTP/1.1\r\nhost: 10.0.0.1:80\r\nforwarded: for="[2001:db8::1]";proto=http\r\nconnection: close\r\n\r\n');
  });
});

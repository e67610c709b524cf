// Header rules and request ids fuzzed. Request heads with random fields (X-Request-Id among
// them, repeated, long, odd) are read by the request parser; whatever it accepts goes through
// the rules and the id: the head written for the member must read again as a valid request,
// with exactly one id (the request's own when it was valid, else a new one), none of the deleted
// fields, each set field once. Header value templates (config text) are fuzzed too: a template
// is read into parts or refused, never thrown on, and what is read writes back to itself.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHeaderValue } from '../../../src/config/header-rules-schema.ts';
import type { HeaderRulesConfig, HeaderValuePart, RequestIdConfig } from '../../../src/config/header-rules-types.ts';
import { HeaderEditor } from '../../../src/proxy/http/header-rules.ts';
import { memberRequestHead } from '../../../src/proxy/http/head-writer.ts';
import { incomingRequestId, validRequestId } from '../../../src/proxy/http/request-id.ts';
import { parseRequestHead } from '../../../src/proxy/http/request-head.ts';
import { HttpError } from '../../../src/proxy/http/responses.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../../helpers/fuzz.ts';

const limits = { requestLine: 8192, headers: 32768 };
const NAMES = ['X-Request-Id', 'x-request-id', 'X-REQUEST-ID', 'X-Debug', 'x-client', 'Via', 'Host', 'Cookie', 'Accept', 'X-Forwarded-For', 'Content-Length', 'X-Request-Idx', 'X-Request'];
const VALUES = ['', 'a', 'abc-123', 'trace/42', 'a b', 'x'.repeat(128), 'y'.repeat(129), '"q"', '{client}', '\x7f', '\x80\xff', '1', '0', 'GET'];
const CHARS = ' \t!"#$%&\'()*+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~\x7f\x80\xff';

function value(f: Fuzzer): string {
  if (f.int(3) > 0) return f.pick(VALUES);
  let v = '';
  for (let n = f.int(140); n > 0; n--) v += CHARS[f.int(CHARS.length)];
  return v;
}

function generate(f: Fuzzer): Buffer {
  let head = `${f.pick(['GET', 'POST', 'HEAD'])} ${f.pick(['/', '/a?b=c', '/x/y'])} HTTP/1.1\r\nHost: ${f.pick(['a.example', 'b:8080', '[::1]'])}\r\n`;
  for (let n = f.int(6); n > 0; n--) head += `${f.pick(NAMES)}: ${value(f)}\r\n`;
  const text = Buffer.from(`${head}\r\n`, 'latin1');
  return f.int(4) === 0 ? f.mutate(text, ['\r\n', ': ', 'X-Request-Id', ' ', '\x00']) : text;
}

const RULES: HeaderRulesConfig = {
  request: {
    set: [{ name: 'X-Client', lower: 'x-client', value: '{client} {host}{path}', parts: [{ field: 'client' }, ' ', { field: 'host' }, { field: 'path' }] }],
    add: [{ name: 'Via', lower: 'via', value: 'furiwake', parts: ['furiwake'] }],
    delete: ['x-debug'],
  },
  response: null,
};
const ID: RequestIdConfig = { header: 'X-Request-Id', lower: 'x-request-id', keepIncoming: true, echo: true };

describe('header rules fuzzed', () => {
  it('the member head stays a valid request with one id, no deleted field and each set field once', () => {
    fuzz(15, fuzzCount(20_000), generate, (input) => {
      // the head as the connection hands it over: up to its first blank line
      const text = input.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      let req;
      try {
        req = parseRequestHead(text.slice(0, end + 4), limits, true);
      } catch (err) {
        if (err instanceof HttpError) return;
        throw err;
      }
      const incoming = incomingRequestId(req.fields, ID.lower);
      if (incoming !== null) assert.ok(validRequestId(incoming));
      const editor = new HeaderEditor(RULES, null, req, { client: '192.0.2.1', https: false, service: 's', route: '' }, ID);
      const head = memberRequestHead(req, { forwarded: 'x-forwarded', client: '192.0.2.1', https: false, memberHost: 'm:80', close: false, headers: editor });
      const id = editor.requestId;
      if (incoming !== null) assert.equal(id, incoming);
      else assert.match(id, /^[0-9a-f]{16}-[0-9a-z]+$/);
      const again = parseRequestHead(head, { requestLine: 1 << 20, headers: 1 << 20 }, false);
      const lines = again.fields.split('\r\n').filter((l) => l !== '').map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]);
      const named = (n: string): string[] => lines.filter(([name]) => name === n).map(([, v]) => v);
      assert.deepEqual(named('x-request-id'), [id]);
      assert.deepEqual(named('x-debug'), []);
      assert.deepEqual(named('x-client'), [`192.0.2.1 ${req.host}${req.target.split('?')[0]}`]);
      assert.equal(named('via').at(-1), 'furiwake');
      assert.equal(named('host').length, 1);
      // the response side: the echo replaces whatever the member said
      assert.equal(editor.response('x-request-id: other\r\nserver: m\r\n'), `server: m\r\nX-Request-Id: ${id}\r\n`);
    });
  });

  it('a header value template is read into parts or refused, and what is read writes back to itself', () => {
    const dictionary = ['{client}', '{host}', '{path}', '{request-id}', '{', '}', '{{', '}}', '{nope}', '\r\n', '\x00', 'é'];
    const seedText = Buffer.from('{method} {scheme}://{host}{path}{query} {{literal}}', 'latin1');
    fuzz(16, fuzzCount(20_000), (f) => f.mutate(seedText, dictionary), (input) => {
      const text = input.toString('latin1');
      const parsed = parseHeaderValue(text);
      if (!parsed.ok) return;
      assert.ok(!/[\x00-\x08\x0a-\x1f\x7f-\xff]/.test(text), 'a control or non-ASCII character was accepted');
      assert.equal(write(parsed.value), text);
    });
  });
});

function write(parts: readonly HeaderValuePart[]): string {
  return parts.map((p) => (typeof p === 'string' ? p.replaceAll('{', '{{').replaceAll('}', '}}') : `{${p.field}}`)).join('');
}

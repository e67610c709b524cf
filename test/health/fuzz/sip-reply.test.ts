// SIP responses from members: fixed malformed cases, then seeded mutations of valid responses.
// What the parser accepts must be a valid response: written back, it reads the same.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { belongsTo, MAX_SIP_HEADERS, parseSipResponse, type SipResponse } from '../../../src/health/monitors/sip-reply.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../../helpers/fuzz.ts';

const T = { branch: 'z9hG4bKabc123', tag: 'f00d', callId: 'c0ffee' };

function valid(f: Fuzzer): Buffer {
  const status = f.pick(['100 Trying', '180 Ringing', '200 OK', '486 Busy Here', '503 Service Unavailable', '404 Not Found', '200']);
  const body = f.pick(['', 'v=0\r\n', 'x'.repeat(f.int(40))]);
  const headers = [
    `${f.pick(['Via', 'v', 'VIA'])}: SIP/2.0/UDP 127.0.0.1:5060;branch=${T.branch};rport=5060`,
    `${f.pick(['From', 'f'])}: <sip:probe@127.0.0.1>;tag=${T.tag}`,
    `${f.pick(['To', 't'])}: <sip:127.0.0.1:5060>;tag=9`,
    `${f.pick(['Call-ID', 'i'])}: ${T.callId}@127.0.0.1`,
    'CSeq: 1 OPTIONS',
    `${f.pick(['Content-Length', 'l'])}: ${body.length}`,
  ];
  if (f.int(2) === 0) headers.push('Allow: INVITE, ACK,\r\n OPTIONS');
  const eol = f.int(5) === 0 ? '\n' : '\r\n';
  return Buffer.from(`SIP/2.0 ${status}${eol}${headers.join(eol)}${eol}${eol}${body}`, 'latin1');
}

const DICTIONARY = ['\r\n', '\n', '\r\n\r\n', ':', ' ', '\t', 'SIP/2.0 ', '200', '999', ';branch=', 'Content-Length: ', 'l: ', '99999999', '-1', '\x00', '\x7f', 'constructor', '__proto__', ',', '@'];

/** The response written back: status line, each header (full name), a blank line. */
function serialise(m: SipResponse): Buffer {
  const lines = [`SIP/2.0 ${m.status} ${m.phrase}`];
  for (const [name, values] of m.headers) for (const v of values) lines.push(`${name}: ${v}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

describe('sip response parser', () => {
  it('refuses what breaks the grammar, in words', () => {
    const head = (text: string): SipResponse | string => parseSipResponse(Buffer.from(text, 'latin1'));
    assert.equal(head('SIP/2.0 200 OK\r\nVia: x\r\n'), 'no end of headers');
    assert.equal(head('HTTP/1.1 200 OK\r\n\r\n'), 'not a SIP/2.0 status line');
    assert.equal(head('SIP/2.0 700 Odd\r\n\r\n'), 'bad status code');
    assert.equal(head('SIP/2.0 2000 OK\r\n\r\n'), 'bad status code');
    assert.equal(head('SIP/2.0 200 O\x00K\r\n\r\n'), 'control character in the reason phrase');
    assert.equal(head('SIP/2.0 200 OK\r\nVia: a\x1bb\r\n\r\n'), 'control character in a header field');
    assert.equal(head('SIP/2.0 200 OK\r\n folded\r\n\r\n'), 'continuation line without a header');
    assert.equal(head('SIP/2.0 200 OK\r\nNo colon\r\n\r\n'), 'header field without a name');
    assert.equal(head('SIP/2.0 200 OK\r\nBad Name: x\r\n\r\n'), 'bad header field name');
    assert.equal(head('SIP/2.0 200 OK\r\nContent-Length: 99999999\r\n\r\n'), 'bad Content-Length');
    assert.equal(head('SIP/2.0 200 OK\r\nContent-Length: -1\r\n\r\n'), 'bad Content-Length');
    assert.equal(head('SIP/2.0 200 OK\r\nContent-Length: 1\r\nl: 2\r\n\r\n'), 'conflicting Content-Length');
    assert.equal(head(`SIP/2.0 200 OK\r\n${'X: y\r\n'.repeat(MAX_SIP_HEADERS + 1)}\r\n`), `more than ${MAX_SIP_HEADERS} header fields`);
    const ok = head('SIP/2.0 200 OK\r\nconstructor: 1\r\nl: 0\r\n\r\n') as SipResponse;
    assert.deepEqual([...ok.headers.keys()], ['constructor', 'content-length']);
  });

  it(`fuzz: ${fuzzCount(30_000)} mutated responses never throw; what is accepted is a valid response`, () => {
    let accepted = 0;
    fuzz(0x5195, fuzzCount(30_000), (f, i) => (i % 10 === 0 ? f.bytes(f.int(200)) : f.mutate(valid(f), DICTIONARY)), (input) => {
      const m = parseSipResponse(input);
      if (typeof m === 'string') return;
      accepted++;
      assert.ok(Number.isInteger(m.status) && m.status >= 100 && m.status <= 699);
      assert.ok(input.subarray(0, 8).equals(Buffer.from('SIP/2.0 ')));
      assert.ok(m.headLength <= input.length);
      assert.doesNotMatch(m.phrase, /[\x00-\x08\x0a-\x1f\x7f]/);
      if (m.contentLength !== null) assert.ok(Number.isInteger(m.contentLength) && m.contentLength <= 65536);
      for (const [name, values] of m.headers) {
        assert.match(name, /^[a-z0-9\-.!%*_+`'~]+$/);
        for (const v of values) assert.doesNotMatch(v, /[\x00-\x08\x0a-\x1f\x7f]/);
      }
      // written back, it reads the same (phrases longer than the shown bound are cut with …)
      const again = parseSipResponse(serialise(m));
      assert.notEqual(typeof again, 'string', `re-serialised response refused: ${String(again)}`);
      const a = again as SipResponse;
      assert.equal(a.status, m.status);
      assert.deepEqual(a.headers, m.headers);
      assert.equal(a.contentLength, m.contentLength);
      belongsTo(m, T, 'OPTIONS'); // never throws either
    });
    assert.ok(accepted > fuzzCount(30_000) / 10, `only ${accepted} accepted: the mutations are too blunt`);
  });
});

// Fuzzing the SIP reader of `balance-per: sip-dialog`: mutations of real requests and responses
// with grammar tokens, and random bytes. Properties: it never throws; what it accepts starts with
// a request line or a status line, has an end of headers, and its Call-ID (found where a Call-ID
// or i header is) is a word [ "@" word ] of bounded length. Lines end in CRLF or a bare LF (RFC
// 3261 7.5), mixed too; never in a bare CR.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_CALL_ID, readSip } from '../../src/proxy/sip-message.ts';
import { type Fuzzer, fuzz, fuzzCount } from '../helpers/fuzz.ts';

const CALL_ID = /^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+(@[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+)?$/;

function valid(f: Fuzzer): Buffer {
  const callId = `${f.int(1e9)}${f.pick(['', '@127.0.0.1', '@host.example', '-x'])}`;
  const start = f.pick(['INVITE sip:bob@127.0.0.1:5060 SIP/2.0', 'BYE sip:bob@127.0.0.1 SIP/2.0', 'SIP/2.0 200 OK', 'SIP/2.0 180 Ringing', 'ACK sip:x SIP/2.0']);
  const headers = [
    'Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1',
    'From: <sip:alice@127.0.0.1>;tag=1',
    'To: <sip:bob@127.0.0.1>',
    `${f.pick(['Call-ID', 'call-id', 'i', 'CALL-ID'])}${f.pick([':', ' :', ': ', ':\t'])}${callId}${f.pick(['', ' '])}`,
    'CSeq: 1 INVITE',
    'Content-Length: 0',
  ];
  // CRLF, a bare LF (some implementations send it), or each line either way
  const style = f.pick(['\r\n', '\n', 'mixed']);
  const eol = (): string => (style === 'mixed' ? f.pick(['\r\n', '\n']) : style);
  return Buffer.from(`${start}${eol()}${headers.map((h) => h + eol()).join('')}${eol()}${f.pick(['', 'v=0\r\n'])}`, 'latin1');
}

const TOKENS = ['\r\n', '\r\n\r\n', '\n', '\r', ' ', '\t', ':', '@', 'Call-ID: ', 'i:', 'SIP/2.0', 'SIP/2.0 ', ' SIP/2.0', '\0', '\x7f', '@@', '"', ';'];

describe('SIP reader fuzz', () => {
  it('rejects or accepts well-formed messages only, never throws', () => {
    let accepted = 0;
    fuzz(5060, fuzzCount(20_000), (f, i) => {
      if (i % 10 === 0) return f.bytes(f.int(200));
      const base = valid(f);
      return i % 10 === 1 ? base : f.mutate(base, TOKENS);
    }, (input) => {
      const message = readSip(input);
      if (typeof message === 'string') return;
      accepted++;
      const text = input.toString('latin1');
      const blank = /\r?\n\r?\n/.exec(text);
      assert.ok(blank !== null, 'it has an end of headers');
      const head = text.slice(0, blank.index);
      assert.doesNotMatch(head, /\r(?!\n)/, 'no bare CR ends a line');
      const startLine = head.split(/\r?\n/)[0];
      if (message.request) assert.match(startLine, /^[A-Za-z0-9\-.!%*_+`'~]+ [^ ]+ SIP\/2\.0$/);
      else assert.match(startLine, /^SIP\/2\.0 [1-6][0-9]{2}( |$)/);
      assert.equal(message.ack, startLine.startsWith('ACK '));
      const callId = text.slice(message.callIdStart, message.callIdEnd);
      assert.ok(callId.length <= MAX_CALL_ID);
      assert.match(callId, CALL_ID);
      // it is the value of the one Call-ID header
      const lines = head.split(/\r?\n/).filter((l) => /^(call-id|i)[ \t]*:/i.test(l));
      assert.equal(lines.length, 1);
      assert.equal(lines[0].replace(/^[^:]*:/, '').trim(), callId);
    });
    assert.ok(accepted > 1000, `only ${accepted} inputs were accepted`);
  });

  it('reads a message whose lines end in a bare LF as the same message with CRLF', () => {
    const crlf = Buffer.from('INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\ni: abc@host\r\n\r\n');
    const lf = Buffer.from(crlf.toString('latin1').replaceAll('\r\n', '\n'), 'latin1');
    const a = readSip(crlf);
    const b = readSip(lf);
    assert.ok(typeof a !== 'string' && typeof b !== 'string', `${String(a)} ${String(b)}`);
    assert.equal(lf.toString('latin1', b.callIdStart, b.callIdEnd), 'abc@host');
    assert.equal(b.request, true);
    const ack = readSip(Buffer.from('ACK sip:x SIP/2.0\nCall-ID: 1\n\n'));
    assert.ok(typeof ack !== 'string' && ack.ack);
    assert.equal(readSip(Buffer.from('OPTIONS sip:x SIP/2.0\rCall-ID: 1\r\r')), 'no start line');
  });
});

// DNS answers from members: fixed malformed cases, then seeded mutations of valid answers to our
// query. Only an answer to our question, with the expected rcode (and answer), may pass.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { judgeDnsReply } from '../../../src/health/monitors/dns-reply.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../../helpers/fuzz.ts';

const QUESTION = { type: 'A' as const, name: 'www.example.com', class: 'IN' as const };
const query = dnsPacket.encode({ type: 'query', id: 0x1234, flags: dnsPacket.RECURSION_DESIRED, questions: [QUESTION] });
const WANT = { rcode: 'NOERROR', answer: '192.0.2.1' };

function answer(f: Fuzzer, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  const answers: dnsPacket.Answer[] = [];
  if (f.int(4) !== 0) answers.push({ type: 'A', name: 'www.example.com', ttl: 60, data: f.pick(['192.0.2.1', '192.0.2.2']) });
  if (f.int(3) === 0) answers.push({ type: 'CNAME', name: 'www.example.com', ttl: 60, data: 'web.example.com' });
  if (f.int(3) === 0) answers.push({ type: 'TXT', name: 'www.example.com', ttl: 60, data: 'v=spf1' });
  if (f.int(4) === 0) answers.push({ type: 'AAAA', name: 'www.example.com', ttl: 60, data: '2001:db8::1' });
  return dnsPacket.encode({
    type: 'response', id: 0x1234, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | f.pick([0, 0, 0, 3, 2]),
    questions: [f.int(5) === 0 ? { ...QUESTION, name: 'WWW.Example.COM' } : QUESTION], answers, ...extra,
  });
}

const DICTIONARY = [Buffer.from([0xc0, 0x0c]), Buffer.from([0xc0, 0xff]), Buffer.from([0x12, 0x34]), Buffer.from([0x81, 0x80]), Buffer.from([0, 1, 0, 1]), Buffer.from([0xff, 0xff]), Buffer.from([3, 0x77, 0x77, 0x77]), Buffer.from([0])];

describe('dns answer judge', () => {
  it('says what is wrong with a malformed answer, and ignores another ID', () => {
    const f = { int: () => 1, pick: <T>(xs: readonly T[]) => xs[0] } as unknown as Fuzzer;
    const good = answer(f);
    assert.deepEqual(judgeDnsReply(good, query, WANT, true), { up: true, reason: 'NOERROR' });
    const judge = (edit: (b: Buffer) => void): unknown => {
      const b = Buffer.from(good);
      edit(b);
      return judgeDnsReply(b, query, WANT, true)?.reason;
    };
    assert.equal(judgeDnsReply(good.subarray(0, 11), query, WANT, true)?.reason, 'malformed DNS response: shorter than a DNS header (11 bytes)');
    assert.equal(judgeDnsReply(query, query, WANT, true)?.reason, 'malformed DNS response: not a response (QR is 0)');
    assert.equal(judge((b) => (b[1] ^= 1)), undefined);
    assert.equal(judge((b) => (b[2] |= 0x28)), 'malformed DNS response: opcode 5, not QUERY');
    assert.equal(judge((b) => b.writeUInt16BE(2, 4)), 'malformed DNS response: 2 questions, expected ours alone');
    assert.equal(judge((b) => (b[13] = 0x76)), 'malformed DNS response: the question is not ours');
    assert.match(String(judge((b) => b.writeUInt16BE(9, 6))), /^malformed DNS response: /);
    // a FORMERR without the question is still read as FORMERR
    const formerr = Buffer.from(good.subarray(0, 12));
    formerr.writeUInt16BE(0x8181, 2);
    formerr.writeUInt32BE(0, 4);
    assert.equal(judgeDnsReply(formerr, query, WANT, true)?.reason, 'rcode FORMERR, expected NOERROR');
  });

  it(`fuzz: ${fuzzCount(30_000)} mutated answers never throw; only our question with the expected answer passes`, () => {
    let passed = 0;
    fuzz(0xd75, fuzzCount(30_000), (f, i) => (i % 10 === 0 ? f.bytes(f.int(80)) : f.mutate(answer(f), DICTIONARY)), (input, i) => {
      const expect = i % 2 === 0 ? WANT : { rcode: 'NOERROR', answer: null };
      const result = judgeDnsReply(input, query, expect, i % 3 !== 0);
      if (result === null) {
        assert.notEqual(input.readUInt16BE(0), 0x1234);
        return;
      }
      if (!result.up) return;
      passed++;
      assert.equal(input.readUInt16BE(0), 0x1234);
      assert.equal(input[2] & 0xf8, 0x80, 'a response to a standard query');
      assert.equal(input[3] & 0x0f, 0, 'NOERROR');
      assert.equal(input.readUInt16BE(4), 1);
      assert.equal(input.subarray(12, query.length).toString('latin1').toLowerCase(), query.subarray(12).toString('latin1'));
      const decoded = dnsPacket.decode(input);
      if (expect.answer !== null) assert.ok(decoded.answers!.some((a) => a.type === 'A' && a.data === '192.0.2.1'));
    });
    assert.ok(passed > fuzzCount(30_000) / 100, `only ${passed} passed: the mutations never reach the end`);
  });
});

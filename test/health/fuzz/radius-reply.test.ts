// RADIUS answers from members: fixed malformed cases, then seeded mutations of correctly signed
// answers (signed again after the mutation half of the time, so the checks past the signature
// are reached). Only a well-formed, correctly signed answer may pass.

import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { judgeRadiusReply } from '../../../src/health/monitors/radius-reply.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../../helpers/fuzz.ts';

const SECRET = 'testing123';
interface Decoded { code: string; identifier: number; authenticator: Buffer; attributes: Record<string, unknown> }
const radius = createRequire(import.meta.url)('radius') as {
  decode(args: { packet: Buffer; secret: string }): Decoded;
  encode(args: { code: string; secret: string; identifier: number; attributes: [string, string | Buffer][]; add_message_authenticator?: boolean }): Buffer;
  encode_response(args: { packet: Decoded; code: string; secret: string; attributes?: [string, string | Buffer][] }): Buffer;
};

const request = radius.encode({ code: 'Access-Request', secret: SECRET, identifier: 42, attributes: [['User-Name', 'probe'], ['User-Password', 'pw']], add_message_authenticator: true });
const decodedRequest = radius.decode({ packet: request, secret: SECRET });

/** The Response Authenticator over the first `length` bytes of `packet`, written in place. */
function sign(packet: Buffer, length: number): void {
  createHash('md5').update(packet.subarray(0, 4)).update(request.subarray(4, 20)).update(packet.subarray(20, length)).update(SECRET).digest().copy(packet, 4);
}

function valid(f: Fuzzer): Buffer {
  const code = f.pick(['Access-Accept', 'Access-Reject', 'Access-Challenge']);
  const attributes: [string, string | Buffer][] = f.int(2) === 0 ? [['Reply-Message', 'hello']] : [];
  if (f.int(2) === 0) attributes.push(['Session-Timeout', Buffer.from([0, 0, 0, 60])]);
  return radius.encode_response({ packet: decodedRequest, code, secret: SECRET, attributes });
}

/** An independent reading: is `response` a well-formed answer to `request`, signed with SECRET? */
function wellFormedAndSigned(response: Buffer): boolean {
  if (response.length < 20 || response[1] !== request[1]) return false;
  const length = response.readUInt16BE(2);
  if (length < 20 || length > 4096 || length > response.length) return false;
  const p = response.subarray(0, length);
  let ma = -1;
  for (let at = 20; at < length; at += p[at + 1]) {
    if (at + 2 > length || p[at + 1] < 2 || at + p[at + 1] > length) return false;
    if (p[at] === 80) {
      if (p[at + 1] !== 18 || ma !== -1) return false;
      ma = at + 2;
    }
  }
  const copy = Buffer.from(p);
  sign(copy, length);
  if (!copy.subarray(4, 20).equals(p.subarray(4, 20))) return false;
  if (ma === -1) return true;
  request.copy(copy, 4, 4, 20);
  copy.fill(0, ma, ma + 16);
  return createHmac('md5', SECRET).update(copy).digest().equals(p.subarray(ma, ma + 16));
}

describe('radius answer judge', () => {
  it('says what is wrong with a malformed answer, and ignores another identifier', () => {
    const accept = radius.encode_response({ packet: decodedRequest, code: 'Access-Accept', secret: SECRET, attributes: [['Reply-Message', 'hi']] });
    assert.deepEqual(judgeRadiusReply(accept, request, SECRET, 'accept'), { up: true, reason: 'RADIUS Access-Accept' });
    assert.deepEqual(judgeRadiusReply(accept.subarray(0, 19), request, SECRET, 'accept'), { up: false, reason: 'malformed RADIUS response: shorter than a RADIUS header (19 bytes)' });
    const other = Buffer.from(accept);
    other[1] ^= 1;
    assert.equal(judgeRadiusReply(other, request, SECRET, 'accept'), null);
    const badLength = Buffer.from(accept);
    badLength.writeUInt16BE(19, 2);
    assert.deepEqual(judgeRadiusReply(badLength, request, SECRET, 'accept'), { up: false, reason: 'malformed RADIUS response: bad Length 19' });
    // an attribute whose length runs past the packet, even when the packet is signed
    const cut = Buffer.from(accept);
    cut[21] = 200;
    sign(cut, cut.length);
    assert.match(judgeRadiusReply(cut, request, SECRET, 'accept')!.reason, /^malformed RADIUS response: attribute 18 at 20 has a bad length 200$/);
    const zero = Buffer.from(accept);
    zero[21] = 0;
    sign(zero, zero.length);
    assert.match(judgeRadiusReply(zero, request, SECRET, 'accept')!.reason, /bad length 0$/);
  });

  it('walks every attribute, also after a valid Message-Authenticator, and refuses a Length past 4096', () => {
    // Message-Authenticator first, then an attribute that claims 10 octets and has 4
    const packet = Buffer.concat([Buffer.from([2, request[1], 0, 0]), Buffer.alloc(16), Buffer.from([80, 18]), Buffer.alloc(16), Buffer.from([18, 10, 0x61, 0x62])]);
    packet.writeUInt16BE(packet.length, 2);
    const zeroed = Buffer.from(packet);
    request.copy(zeroed, 4, 4, 20);
    createHmac('md5', SECRET).update(zeroed).digest().copy(packet, 22);
    sign(packet, packet.length);
    assert.deepEqual(judgeRadiusReply(packet, request, SECRET, 'accept'), { up: false, reason: 'malformed RADIUS response: attribute 18 at 38 has a bad length 10' });
    const big = Buffer.concat([Buffer.from([2, request[1], 0x10, 0x01]), Buffer.alloc(4097 - 4)]);
    assert.deepEqual(judgeRadiusReply(big, request, SECRET, 'accept'), { up: false, reason: 'malformed RADIUS response: bad Length 4097' });
  });

  it(`fuzz: ${fuzzCount(30_000)} mutated answers never throw; only well-formed, signed answers pass`, () => {
    let passed = 0;
    fuzz(0x4ad1, fuzzCount(30_000), (f, i) => {
      if (i % 10 === 0) return f.bytes(f.int(64));
      const m = f.mutate(valid(f), [Buffer.from([80, 18]), Buffer.from([0, 20]), Buffer.from([255]), Buffer.from([2, 42]), Buffer.from([1, 2]), Buffer.alloc(16)]);
      if (f.int(2) === 0 && m.length >= 20) sign(m, Math.min(m.readUInt16BE(2), m.length));
      return m;
    }, (input) => {
      const result = judgeRadiusReply(input, request, SECRET, 'any');
      if (result === null) {
        assert.notEqual(input[1], request[1]);
        return;
      }
      assert.equal(typeof result.reason, 'string');
      if (!result.up) return;
      passed++;
      assert.ok(wellFormedAndSigned(input), 'passed an answer that is malformed or not signed');
      assert.ok([2, 3, 11].includes(input[0]));
    });
    assert.ok(passed > fuzzCount(30_000) / 100, `only ${passed} passed: the mutations never reach the end`);
  });
});

// What a raw ICMP socket receives: fixed cases, then seeded mutations of echo replies and of
// errors quoting our request. Only a sound packet is read as an answer.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { internetChecksum, readIcmp4, readIcmp6 } from '../../../src/health/monitors/proto-icmp-reply.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../../helpers/fuzz.ts';

function ipv4(protocol: number, source: number[], destination: number[], payload: Buffer, options = 0): Buffer {
  const header = Buffer.alloc(20 + options * 4);
  header[0] = 0x40 | (5 + options);
  header.writeUInt16BE(header.length + payload.length, 2);
  header[8] = 64;
  header[9] = protocol;
  Buffer.from(source).copy(header, 12);
  Buffer.from(destination).copy(header, 16);
  header.writeUInt16BE(internetChecksum(header), 10);
  return Buffer.concat([header, payload]);
}

function icmp(type: number, code: number, rest: Buffer): Buffer {
  const m = Buffer.concat([Buffer.from([type, code, 0, 0]), rest]);
  m.writeUInt16BE(internetChecksum(m), 2);
  return m;
}

const echo = (type: number, id: number, seq: number): Buffer => {
  const b = Buffer.alloc(4 + 15);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(seq, 2);
  b.write('furiwake health', 4, 'latin1');
  return icmp(type, 0, b);
};

const MEMBER = [192, 0, 2, 7];
const US = [192, 0, 2, 1];

function valid4(f: Fuzzer): Buffer {
  const request = echo(8, 0x1234, f.int(3));
  switch (f.int(3)) {
    case 0:
      return ipv4(1, MEMBER, US, echo(0, 0x1234, f.int(3)), f.int(2));
    case 1:
      return ipv4(1, [192, 0, 2, 254], US, icmp(3, f.int(16), Buffer.concat([Buffer.alloc(4), ipv4(1, US, MEMBER, request).subarray(0, 28)])));
    default:
      return ipv4(1, [198, 51, 100, 1], US, icmp(11, f.int(2), Buffer.concat([Buffer.alloc(4), ipv4(1, US, MEMBER, request)])));
  }
}

function valid6(f: Fuzzer): Buffer {
  if (f.int(2) === 0) return echo(129, 0x1234, f.int(3));
  const quoted = Buffer.alloc(40);
  quoted[0] = 0x60;
  quoted[6] = 58;
  quoted[39] = 7; // destination 2001:db8::7
  quoted.writeUInt32BE(0x20010db8, 24);
  return icmp(f.pick([1, 2, 3, 4]), f.int(7), Buffer.concat([Buffer.alloc(4), quoted, echo(128, 0x1234, 1)]));
}

const DICTIONARY = [Buffer.from([0x45]), Buffer.from([0x4f]), Buffer.from([0x40]), Buffer.from([0x60]), Buffer.from([0, 0]), Buffer.from([8, 0]), Buffer.from([0xff, 0xff]), Buffer.from([3, 3]), Buffer.from([58])];

describe('icmp reply reader', () => {
  it('reads an echo reply and an error quoting our request', () => {
    assert.deepEqual(readIcmp4(ipv4(1, MEMBER, US, echo(0, 7, 9))), { kind: 'reply', id: 7, seq: 9 });
    const quoted = ipv4(1, US, MEMBER, echo(8, 7, 9)).subarray(0, 28);
    assert.deepEqual(readIcmp4(ipv4(1, US, US, icmp(3, 1, Buffer.concat([Buffer.alloc(4), quoted])))), {
      kind: 'error', reason: 'ICMP host unreachable', id: 7, seq: 9, destination: '192.0.2.7',
    });
  });

  it('names each error by its type and code; a code not listed by its type and number; other types end nothing', () => {
    const quoted4 = Buffer.concat([Buffer.alloc(4), ipv4(1, US, MEMBER, echo(8, 7, 9)).subarray(0, 28)]);
    const quoted6 = Buffer.alloc(40);
    quoted6[0] = 0x60;
    quoted6[6] = 58;
    const request6 = Buffer.concat([Buffer.alloc(4), quoted6, echo(128, 7, 9)]);
    const cases: [4 | 6, number, number, string | null][] = [
      [4, 3, 3, 'ICMP port unreachable'], [4, 3, 99, 'ICMP destination unreachable (code 99)'],
      [4, 11, 0, 'ICMP time exceeded (TTL expired in transit)'], [4, 11, 1, 'ICMP fragment reassembly time exceeded'],
      [4, 11, 2, 'ICMP time exceeded (code 2)'], [4, 12, 1, 'ICMP parameter problem'], [4, 5, 0, null], // a redirect
      [6, 1, 4, 'ICMPv6 port unreachable'], [6, 1, 7, 'ICMPv6 destination unreachable (code 7)'], [6, 2, 0, 'ICMPv6 packet too big'],
      [6, 3, 0, 'ICMPv6 hop limit exceeded in transit'], [6, 3, 1, 'ICMPv6 fragment reassembly time exceeded'],
      [6, 4, 2, 'ICMPv6 parameter problem'], [6, 137, 0, null], // a redirect
    ];
    for (const [family, type, code, reason] of cases) {
      const event = family === 4 ? readIcmp4(ipv4(1, US, US, icmp(type, code, quoted4))) : readIcmp6(icmp(type, code, request6));
      assert.equal(event?.kind === 'error' ? event.reason : null, reason, `ICMPv${family} type ${type} code ${code}`);
    }
  });

  it('drops what is not sound: header length under 20, another version or protocol, a bad checksum, a reply with a code', () => {
    const good = ipv4(1, MEMBER, US, echo(0, 7, 9));
    const edit = (fn: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(good);
      fn(b);
      return b;
    };
    assert.equal(readIcmp4(edit((b) => (b[0] = 0x40))), null); // IHL 0: the IP header would be read as ICMP
    assert.equal(readIcmp4(edit((b) => (b[0] = 0x44))), null);
    assert.equal(readIcmp4(edit((b) => (b[0] = 0x65))), null);
    assert.equal(readIcmp4(edit((b) => (b[9] = 17))), null);
    assert.equal(readIcmp4(edit((b) => (b[25] ^= 1))), null);
    assert.equal(readIcmp4(edit((b) => b.writeUInt16BE(500, 2))), null);
    assert.equal(readIcmp4(ipv4(1, MEMBER, US, icmp(0, 1, echo(0, 7, 9).subarray(4)))), null);
    assert.equal(readIcmp6(icmp(129, 3, echo(0, 7, 9).subarray(4))), null);
  });

  it(`fuzz: ${fuzzCount(40_000)} mutated IPv4 and IPv6 ICMP messages never throw; what is read is sound`, () => {
    let read = 0;
    fuzz(0x1c3, fuzzCount(40_000), (f, i) => {
      if (i % 10 === 0) return f.bytes(f.int(100));
      return i % 2 === 0 ? f.mutate(valid4(f), DICTIONARY) : f.mutate(valid6(f), DICTIONARY);
    }, (input, i) => {
      if (i % 2 === 0 || i % 10 === 0) {
        const event = readIcmp4(input);
        if (event === null) return;
        read++;
        const ihl = (input[0] & 0x0f) * 4;
        assert.equal(input[0] >> 4, 4);
        assert.ok(ihl >= 20 && input[9] === 1);
        const message = input.subarray(ihl, input.readUInt16BE(2));
        assert.equal(internetChecksum(message), 0);
        if (event.kind === 'reply') assert.deepEqual([message[0], message[1]], [0, 0]);
        else assert.ok([3, 11, 12].includes(message[0]) && /^ICMP /.test(event.reason));
      }
      if (i % 2 === 1 || i % 10 === 0) {
        const event = readIcmp6(input);
        if (event === null) return;
        read++;
        if (event.kind === 'reply') assert.deepEqual([input[0], input[1]], [129, 0]);
        else assert.ok([1, 2, 3, 4].includes(input[0]) && input[48] === 128 && /^ICMPv6 /.test(event.reason));
      }
    });
    assert.ok(read > fuzzCount(40_000) / 20, `only ${read} read: the mutations are too blunt`);
  });
});

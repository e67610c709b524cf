// Fuzzing the RADIUS reader of `balance-per: radius-request`: mutations of real Access-Requests
// and Access-Challenges (with State) and random bytes. Properties: it never throws; what it
// accepts has a Length within the datagram and the bound, attributes that tile the packet
// exactly, and a State (when found) inside the packet and not empty.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_RADIUS_PACKET, RADIUS_HEADER, readRadius } from '../../src/proxy/radius-message.ts';
import { type Fuzzer, fuzz, fuzzCount } from '../helpers/fuzz.ts';

function attribute(type: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.of(type, value.length + 2), value]);
}

function packet(code: number, identifier: number, attributes: Buffer[]): Buffer {
  const body = Buffer.concat(attributes);
  const header = Buffer.alloc(RADIUS_HEADER);
  header[0] = code;
  header[1] = identifier;
  header.writeUInt16BE(RADIUS_HEADER + body.length, 2);
  return Buffer.concat([header, body]);
}

function valid(f: Fuzzer): Buffer {
  const attributes = [attribute(1, Buffer.from('alice')), attribute(2, f.bytes(16))];
  if (f.int(2) === 0) attributes.push(attribute(24, f.bytes(1 + f.int(40))));
  if (f.int(3) === 0) attributes.push(attribute(79, f.bytes(f.int(200))), attribute(80, f.bytes(16)));
  return packet(f.pick([1, 4, 11, 12, 2, 3]), f.int(256), attributes);
}

const TOKENS: Buffer[] = [
  Buffer.of(24, 0), Buffer.of(24, 2), Buffer.of(24, 3, 0), Buffer.of(0, 0), Buffer.of(1, 1), Buffer.of(0xff, 0xff),
  Buffer.of(0x10, 0x00), Buffer.of(0x00, 0x14), Buffer.of(0x00, 0x13), Buffer.of(26, 255), Buffer.alloc(16),
];

describe('RADIUS reader fuzz', () => {
  it('rejects or accepts well-formed packets only, never throws', () => {
    let accepted = 0;
    fuzz(1812, fuzzCount(20_000), (f, i) => {
      if (i % 10 === 0) return f.bytes(f.int(64));
      const base = valid(f);
      return i % 10 === 1 ? base : f.mutate(base, TOKENS);
    }, (input) => {
      const message = readRadius(input);
      if (typeof message === 'string') return;
      accepted++;
      assert.ok(message.length >= RADIUS_HEADER && message.length <= MAX_RADIUS_PACKET && message.length <= input.length);
      assert.equal(message.length, input.readUInt16BE(2));
      assert.equal(message.code, input[0]);
      assert.equal(message.identifier, input[1]);
      // the attributes tile the packet exactly, and there is at most one State, found where it is
      let offset = RADIUS_HEADER;
      let states = 0;
      while (offset < message.length) {
        const size = input[offset + 1];
        assert.ok(size >= 2 && offset + size <= message.length);
        if (input[offset] === 24) {
          states++;
          assert.equal(message.stateStart, offset + 2);
          assert.equal(message.stateEnd, offset + size);
          assert.ok(message.stateEnd > message.stateStart);
        }
        offset += size;
      }
      assert.equal(offset, message.length);
      assert.ok(states <= 1);
      if (states === 0) assert.equal(message.stateStart, -1);
    });
    assert.ok(accepted > 1000, `only ${accepted} inputs were accepted: the generator does not reach the attribute walk`);
  });
});

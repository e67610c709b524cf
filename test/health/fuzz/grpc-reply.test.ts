// gRPC health answers from members: fixed malformed cases, then seeded mutations of well-formed
// framed HealthCheckResponse messages (with unknown fields of every wire type around the status).
// The parser must never throw; what it accepts must be one uncompressed frame of the right length
// whose status protobufjs's own reader decodes the same.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { decodeCheckResponse, encodeCheckRequest, MAX_GRPC_REPLY, parseCheckReply } from '../../../src/health/monitors/grpc-reply.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../../helpers/fuzz.ts';

interface Reader { pos: number; len: number; uint32(): number; int32(): number; skipType(wire: number): Reader }
const protobuf = createRequire(import.meta.url)('protobufjs/minimal') as { Reader: { create(buf: Uint8Array): Reader } };

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function frame(message: Buffer, flag = 0): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = flag;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** An unknown field (number 2..40) of a random wire type. */
function unknownField(f: Fuzzer): number[] {
  const field = 2 + f.int(39);
  switch (f.pick([0, 1, 2, 5])) {
    case 0:
      return [...varint(field * 8), ...varint(f.int(2 ** 31))];
    case 1:
      return [...varint(field * 8 + 1), ...f.bytes(8)];
    case 2: {
      const body = f.bytes(f.int(20));
      return [...varint(field * 8 + 2), ...varint(body.length), ...body];
    }
    default:
      return [...varint(field * 8 + 5), ...f.bytes(4)];
  }
}

function valid(f: Fuzzer): Buffer {
  const bytes: number[] = [];
  const fields = f.int(4);
  for (let i = 0; i < fields; i++) {
    if (f.int(2) === 0) bytes.push(0x08, ...varint(f.int(5)));
    else bytes.push(...unknownField(f));
  }
  return frame(Buffer.from(bytes));
}

/**
 * The status read by a second, simpler decoder (BigInt varints, protobuf's rules: keys are uint32,
 * varints at most 10 bytes, groups refused), or null when it refuses the message. (protobufjs's
 * reader is not used here: it skips a 6-9 byte varint as if it had 10 bytes.)
 */
function referenceStatus(message: Buffer): number | null {
  let at = 0;
  const varint = (): bigint | null => {
    let value = 0n;
    for (let i = 0; i < 10 && at < message.length; i++) {
      const b = message[at++];
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return value;
    }
    return null;
  };
  let status = 0;
  while (at < message.length) {
    const key = varint();
    if (key === null || key > 0xffffffffn || key >> 3n === 0n) return null;
    const wire = Number(key & 7n);
    if (key >> 3n === 1n) {
      const value = wire === 0 ? varint() : null;
      if (value === null) return null;
      status = Number(BigInt.asIntN(32, value));
    } else if (wire === 0) {
      if (varint() === null) return null;
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
    } else if (wire === 2) {
      const length = varint();
      if (length === null || length > BigInt(message.length)) return null;
      at += Number(length);
    } else {
      return null;
    }
    if (at > message.length) return null;
  }
  return status;
}

/** The status protobufjs reads from a canonical message (last field 1 wins). */
function protobufjsStatus(message: Buffer): number {
  const reader = protobuf.Reader.create(message);
  let status = 0;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 0) status = reader.int32();
    else reader.skipType(tag & 7);
  }
  return status;
}

const DICTIONARY = [Buffer.of(0x08), Buffer.of(0x08, 0x01), Buffer.of(0x08, 0x02), Buffer.of(0x0a), Buffer.of(0x12, 0x7f), Buffer.of(0xff, 0xff, 0xff, 0xff, 0x0f),
  Buffer.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), Buffer.of(0x0b), Buffer.of(0x0c), Buffer.of(0x0e), Buffer.of(0x00, 0x00, 0x00, 0x10, 0x01), Buffer.of(0x01)];

describe('grpc health answer parser', () => {
  it('reads the status of well-formed answers, and says what is wrong with malformed ones', () => {
    assert.equal(parseCheckReply(frame(Buffer.of(0x08, 0x01))), 1);
    assert.equal(parseCheckReply(frame(Buffer.alloc(0))), 0);
    assert.equal(parseCheckReply(frame(Buffer.of(0x08, 0x01, 0x08, 0x02))), 2);
    // an unknown length-delimited field before, a fixed32 after
    assert.equal(parseCheckReply(frame(Buffer.of(0x12, 0x02, 0x61, 0x62, 0x08, 0x01, 0x1d, 1, 2, 3, 4))), 1);
    // -1 as an int32 enum: ten bytes
    assert.equal(decodeCheckResponse(Buffer.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), -1);
    assert.equal(parseCheckReply(Buffer.alloc(0)), 'no response message');
    assert.equal(parseCheckReply(Buffer.of(0, 0, 0)), 'response message cut short (3 bytes)');
    assert.equal(parseCheckReply(frame(Buffer.of(0x08, 0x01), 1)), 'compressed response message (no compression was offered)');
    assert.equal(parseCheckReply(frame(Buffer.of(0x08, 0x01), 7)), 'bad message flag 7');
    assert.equal(parseCheckReply(Buffer.of(0, 0xff, 0xff, 0xff, 0xff)), `response message of 4294967295 bytes (at most ${MAX_GRPC_REPLY})`);
    assert.equal(parseCheckReply(Buffer.concat([frame(Buffer.of(0x08, 0x01)), frame(Buffer.of(0x08, 0x02))])), 'more than one response message');
    assert.equal(decodeCheckResponse(Buffer.of(0x08)), 'protobuf varint past the end of the message');
    assert.equal(decodeCheckResponse(Buffer.of(0x0a, 0x01, 0x01)), 'status field of wire type 2 (an enum is a varint)');
    assert.equal(decodeCheckResponse(Buffer.of(0x12, 0x05, 0x01)), 'protobuf field past the end of the message');
    assert.equal(decodeCheckResponse(Buffer.of(0x13)), 'unsupported protobuf wire type 3');
    assert.equal(decodeCheckResponse(Buffer.of(0x00)), 'invalid protobuf field number 0');
    assert.equal(decodeCheckResponse(Buffer.of(0x08, ...Array(10).fill(0x80))), 'protobuf varint longer than 10 bytes');
    assert.equal(decodeCheckResponse(Buffer.of(0x88, 0x80, 0x80, 0x80, 0x80, 0x01, 0x01)), 'protobuf field number too large');
  });

  it('encodes the request as protobufjs reads it', () => {
    assert.deepEqual(encodeCheckRequest(''), Buffer.of(0, 0, 0, 0, 0));
    const request = encodeCheckRequest('shop.Cart');
    assert.equal(request.readUInt32BE(1), request.length - 5);
    const reader = protobuf.Reader.create(request.subarray(5)) as Reader & { string(): string };
    assert.equal(reader.uint32(), 0x0a);
    assert.equal(reader.string(), 'shop.Cart');
  });

  it('never throws on mutated answers; what it accepts is one frame whose status protobufjs reads the same', () => {
    let accepted = 0;
    fuzz(0x67727063, fuzzCount(50_000), (f) => (f.int(10) === 0 ? valid(f) : f.mutate(valid(f), DICTIONARY)), (input) => {
      const result = parseCheckReply(input);
      if (typeof result === 'string') return;
      accepted++;
      assert.equal(typeof result, 'number');
      assert.equal(input[0], 0);
      assert.equal(input.readUInt32BE(1), input.length - 5);
      assert.ok(input.length - 5 <= MAX_GRPC_REPLY);
      assert.equal(referenceStatus(input.subarray(5)), result);
    });
    assert.ok(accepted > 0);
  });

  it('accepts exactly the messages the reference decoder accepts, with the same status', () => {
    fuzz(0x70726f74, fuzzCount(30_000), (f) => f.mutate(valid(f).subarray(5), DICTIONARY), (message) => {
      const ours = decodeCheckResponse(message);
      assert.equal(typeof ours === 'number' ? ours : null, referenceStatus(message));
    });
  });

  it('reads well-formed answers as protobufjs does', () => {
    fuzz(0x6f6b6179, fuzzCount(5_000), valid, (input) => {
      assert.equal(parseCheckReply(input), protobufjsStatus(input.subarray(5)));
    });
  });
});

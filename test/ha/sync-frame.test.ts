// The frames of the ha sync link are a parser of outside bytes: every message round-trips, and
// mutated, cut or random frames are a rejection with a reason, never a throw; what is accepted
// re-encodes to the same bytes and carries only printable names. The frame reader cuts a stream
// split anywhere into the same bodies, and refuses a length out of bounds.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeMessage, FrameReader, lengthPrefix, MAX_FRAME, MAX_HANDSHAKE_FRAME, parseMessage, type SyncMessage } from '../../src/ha/sync-frame.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../helpers/fuzz.ts';

const SAMPLES: SyncMessage[] = [
  { type: 'hello', version: 1, node: '10.0.0.1:7400', nonce: Buffer.alloc(32, 7) },
  { type: 'auth', mac: Buffer.alloc(32, 9) },
  { type: 'stick', service: 'www', entries: [{ key: '192.0.2.0/24', member: 's1', expiresIn: 599_000 }, { key: 'id:abcd', member: '[2001:db8::1]:80', expiresIn: 1 }] },
  { type: 'unstick', service: 'www', keys: ['192.0.2.0/24', 'ticket:00ff'] },
  { type: 'clear', service: 'www', member: null },
  { type: 'clear', service: 'www', member: 's2' },
  { type: 'operator', changes: [{ pool: 'web', member: 's1', field: 'state', value: 1, at: 1_796_000_000_000, by: '10.0.0.2:7400' }, { pool: 'web', member: 's1', field: 'weight', value: 256, at: 1, by: 'b' }] },
  { type: 'synced' },
  { type: 'ping' },
];

const DICTIONARY = [Buffer.of(0), Buffer.of(0xff), Buffer.of(0, 0, 0, 1), Buffer.of(0xff, 0xff, 0xff, 0xff), Buffer.of(1), Buffer.of(2), Buffer.of(3), Buffer.of(6), Buffer.of(64), ' ', '\x7f', 'www'];

function printable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return s.length > 0;
}

/** Every name, key and member of an accepted message is printable ASCII. */
function namesOf(m: SyncMessage): string[] {
  switch (m.type) {
    case 'hello': return [m.node];
    case 'stick': return [m.service, ...m.entries.flatMap((e) => [e.key, e.member])];
    case 'unstick': return [m.service, ...m.keys];
    case 'clear': return m.member === null ? [m.service] : [m.service, m.member];
    case 'operator': return m.changes.flatMap((c) => [c.pool, c.member, c.by]);
    default: return [];
  }
}

function checkParse(input: Buffer): void {
  const parsed = parseMessage(input);
  if (!parsed.ok) {
    assert.equal(typeof parsed.reason, 'string');
    return;
  }
  assert.deepEqual(encodeMessage(parsed.message), input, 'an accepted frame re-encodes to its bytes');
  for (const name of namesOf(parsed.message)) assert.ok(printable(name), `a printable name: ${JSON.stringify(name)}`);
  if (parsed.message.type === 'operator') {
    for (const c of parsed.message.changes) assert.ok(Number.isSafeInteger(c.at) && c.at >= 0);
  }
}

function randomMessage(f: Fuzzer): SyncMessage {
  const name = (): string => Array.from({ length: 1 + f.int(20) }, () => String.fromCharCode(0x21 + f.int(94))).join('');
  switch (f.int(5)) {
    case 0: return { type: 'stick', service: name(), entries: Array.from({ length: f.int(5) }, () => ({ key: name(), member: name(), expiresIn: f.int(1e9) })) };
    case 1: return { type: 'unstick', service: name(), keys: Array.from({ length: f.int(5) }, name) };
    case 2: return { type: 'operator', changes: Array.from({ length: f.int(3) }, () => ({ pool: name(), member: name(), field: f.pick(['state', 'weight', 'maxConnections'] as const), value: f.int(3), at: f.int(2 ** 40), by: name() })) };
    case 3: return { type: 'clear', service: name(), member: f.int(2) === 0 ? null : name() };
    default: return f.pick(SAMPLES);
  }
}

describe('sync frames', () => {
  it('every kind of message round-trips', () => {
    for (const m of SAMPLES) {
      const parsed = parseMessage(encodeMessage(m));
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
      assert.deepEqual(parsed.message, m);
    }
  });

  it('refuses what breaks a field\'s rule, with a reason', () => {
    const reasons = (b: Buffer): string => {
      const p = parseMessage(b);
      assert.equal(p.ok, false);
      return p.ok ? '' : p.reason;
    };
    assert.match(reasons(Buffer.of(99)), /unknown frame type 99/);
    assert.match(reasons(Buffer.of(3, 3, 0x77, 0x20, 0x77, 0, 0, 0, 0)), /not printable/);
    assert.match(reasons(Buffer.of(4, 1, 0x77, 0xff, 0xff, 0xff, 0xff)), /cannot fit/);
    assert.match(reasons(Buffer.concat([encodeMessage({ type: 'ping' }), Buffer.of(0)])), /bytes after the end/);
    const op = encodeMessage({ type: 'operator', changes: [{ pool: 'p', member: 'm', field: 'weight', value: 257, at: 5, by: 'n' }] });
    assert.match(reasons(op), /a weight of 257/);
    assert.match(reasons(Buffer.of(1, 1, 1, 0x41)), /nonce cut short/);
    // before authentication a frame may be no larger than a handshake's
    assert.equal(new FrameReader().push(lengthPrefix(600), MAX_HANDSHAKE_FRAME), 'a frame of 600 bytes (1 to 512 allowed)');
    assert.deepEqual(new FrameReader().push(lengthPrefix(600)), []);
  });

  it(`fuzz: mutated messages are parsed or refused, never thrown (${fuzzCount(30_000)} inputs)`, () => {
    fuzz(0x5e17c, fuzzCount(30_000), (f) => f.mutate(encodeMessage(randomMessage(f)), DICTIONARY), checkParse);
  });

  it(`fuzz: random bytes are parsed or refused (${fuzzCount(20_000)} inputs)`, () => {
    fuzz(0xb17e5, fuzzCount(20_000), (f) => {
      const b = f.bytes(f.int(64));
      if (b.length > 0) b[0] = 1 + f.int(9);
      return b;
    }, checkParse);
  });

  it(`fuzz: a stream cut anywhere gives the same frames; a length out of bounds is refused (${fuzzCount(5_000)} inputs)`, () => {
    fuzz(0xf4a3e, fuzzCount(5_000), (f) => {
      const bodies = Array.from({ length: 1 + f.int(6) }, () => encodeMessage(randomMessage(f)));
      const stream = Buffer.concat(bodies.flatMap((b) => [lengthPrefix(b.length), b]));
      // now and then a stream whose bytes were changed too
      return f.int(4) === 0 ? f.mutate(stream, DICTIONARY) : stream;
    }, (stream) => {
      const reader = new FrameReader();
      const got: Buffer[] = [];
      let refused: string | null = null;
      for (let at = 0; at < stream.length && refused === null;) {
        const step = 1 + ((at * 7919) % 37);
        const out = reader.push(stream.subarray(at, at + step));
        if (typeof out === 'string') refused = out;
        else got.push(...out);
        at += step;
      }
      // what was cut out matches the stream, frame by frame
      let at = 0;
      for (const body of got) {
        const length = stream.readUInt32BE(at);
        assert.ok(length >= 1 && length <= MAX_FRAME);
        assert.deepEqual(body, stream.subarray(at + 4, at + 4 + length));
        at += 4 + length;
      }
      if (refused !== null) assert.match(refused, /a frame of \d+ bytes/);
    });
  });
});

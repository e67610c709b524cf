// The reply matchers of the tcp, udp and http monitors over any bytes: seeded random and mutated
// replies; a match is exactly the bytes being there, and nothing throws.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileMatcher } from '../../../src/health/monitors/match.ts';
import { fuzz, fuzzCount } from '../../helpers/fuzz.ts';

const BASE = Buffer.from('HTTP/1.1 200 OK\r\n\r\n+PONG\r\n220 mail ESMTP ready\r\nstatus: OK é', 'utf8');
const DICTIONARY = ['+PONG', 'OK', '\r\n', '\xc3', '\xa9', '\xff', '\x00', 'é'];

describe('reply matchers', () => {
  it(`fuzz: ${fuzzCount(30_000)} replies; string and hex match exactly when the bytes are there; regex never throws`, () => {
    const string = compileMatcher({ kind: 'string', value: '+PONG' });
    const accent = compileMatcher({ kind: 'string', value: 'é' });
    const hex = compileMatcher({ kind: 'hex', value: '2b 50 4f 4e 47' });
    const regex = compileMatcher({ kind: 'regex', value: '^220 .*ready' });
    fuzz(0x3a7c, fuzzCount(30_000), (f, i) => (i % 4 === 0 ? f.bytes(f.int(64)) : f.mutate(BASE, DICTIONARY)), (input) => {
      const has = input.includes(Buffer.from('+PONG'));
      assert.equal(string.test(input), has);
      assert.equal(hex.test(input), has);
      assert.equal(accent.test(input), input.includes(Buffer.from('é', 'utf8')));
      assert.equal(typeof regex.test(input), 'boolean');
    });
  });
});

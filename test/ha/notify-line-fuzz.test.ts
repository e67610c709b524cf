// Fuzzing the reader of keepalived's notify FIFO lines: mutations of real lines and random
// bytes. Properties: it never throws; what it accepts is an INSTANCE or GROUP line with a
// printable name, a known state and a priority of 0..255, and writing it again reads the same.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatNotifyLine, MAX_NOTIFY_LINE, parseNotifyLine } from '../../src/ha/notify-line.ts';
import { fuzz, fuzzCount, type Fuzzer } from '../helpers/fuzz.ts';

const STATES = ['MASTER', 'BACKUP', 'FAULT', 'STOP', 'DELETED'];
const TOKENS = ['INSTANCE', 'GROUP', '"', ' ', '\n', 'MASTER', 'BACKUP', 'FAULT', '255', '256', '0', '00', '-1', 'furiwake_4', '\t', '\u00ff'];

function valid(f: Fuzzer): Buffer {
  const name = f.pick(['furiwake_4', 'furiwake_6', 'VI_1', 'x'.repeat(1 + f.int(130))]);
  return Buffer.from(`${f.pick(['INSTANCE', 'GROUP'])} "${name}" ${f.pick(STATES)} ${f.int(256)}`, 'latin1');
}

describe('notify line fuzz', () => {
  it('accepts well-formed lines only, never throws, and what it accepts round-trips', () => {
    let accepted = 0;
    fuzz(112, fuzzCount(30_000), (f, i) => {
      if (i % 10 === 0) return f.bytes(f.int(80));
      const base = valid(f);
      return i % 10 === 1 ? base : f.mutate(base, TOKENS);
    }, (input) => {
      const line = input.toString('latin1');
      const parsed = parseNotifyLine(line);
      if (!parsed.ok) {
        assert.equal(typeof parsed.reason, 'string');
        return;
      }
      accepted++;
      const { event } = parsed;
      assert.ok(line.length <= MAX_NOTIFY_LINE);
      assert.ok(event.priority >= 0 && event.priority <= 255 && Number.isInteger(event.priority));
      assert.match(event.name, /^[\x21-\x7e]{1,128}$/);
      assert.doesNotMatch(event.name, /"/);
      assert.deepEqual(parseNotifyLine(formatNotifyLine(event)), { ok: true, event });
    });
    assert.ok(accepted > 0, 'some inputs were accepted');
  });
});

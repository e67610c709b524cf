import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNotifyLine } from '../../src/ha/notify-line.ts';

describe('notify line', () => {
  it('reads the lines keepalived writes', () => {
    assert.deepEqual(parseNotifyLine('INSTANCE "furiwake_4" MASTER 150'), { ok: true, event: { kind: 'instance', name: 'furiwake_4', role: 'master', priority: 150 } });
    assert.deepEqual(parseNotifyLine('GROUP "furiwake" BACKUP 0'), { ok: true, event: { kind: 'group', name: 'furiwake', role: 'backup', priority: 0 } });
    assert.equal(parseNotifyLine('INSTANCE "VI_1" STOP 100').ok, true);
    assert.deepEqual(parseNotifyLine('INSTANCE "VI_1" FAULT 100'), { ok: true, event: { kind: 'instance', name: 'VI_1', role: 'fault', priority: 100 } });
  });

  it('rejects what keepalived does not write', () => {
    for (const line of ['', 'INSTANCE', 'INSTANCE VI_1 MASTER 100', 'INSTANCE "VI_1" MASTER', 'INSTANCE "VI_1" MASTER 256',
      'INSTANCE "VI_1" MASTER 010', 'INSTANCE "VI_1" master 100', 'INSTANCE "VI 1" MASTER 100', 'INSTANCE "" MASTER 100',
      'INSTANCE "VI_1" MASTER 100 extra', 'VS [1.2.3.4]:tcp:80 UP', 'INSTANCE "VI_1"  MASTER 100', 'INSTANCE "VI_1" toString 1',
      `INSTANCE "${'a'.repeat(300)}" MASTER 1`]) {
      const parsed = parseNotifyLine(line);
      assert.equal(parsed.ok, false, line);
    }
  });
});

// keepalived's notify FIFO read through a real FIFO: lines split across writes, lines that are
// not keepalived's counted and skipped, an overlong line skipped to its end, and a writer that
// closes and comes back (a restarted keepalived) read on without an end of file.

import assert from 'node:assert/strict';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeFifo, NotifyFifo } from '../../src/ha/notify-fifo.ts';
import type { NotifyEvent } from '../../src/ha/notify-line.ts';
import { tempDir } from '../helpers/files.ts';
import { until } from '../helpers/wait.ts';

describe('notify FIFO', () => {
  it('reads each line as keepalived writes it, rejects the others, and outlives its writer', async () => {
    const path = join(await tempDir('furiwake-fifo-'), 'notify.fifo');
    await makeFifo(path);
    await makeFifo(path); // already one: kept
    const events: NotifyEvent[] = [];
    const rejected: string[] = [];
    const fifo = new NotifyFifo(path, { event: (e) => events.push(e), rejected: (reason) => rejected.push(reason) });
    try {
      const write = (text: string): void => {
        const fd = openSync(path, 'w');
        writeSync(fd, text);
        closeSync(fd);
      };
      write('INSTANCE "furiwake_4" BAC');
      write('KUP 150\nnot keepalived\n');
      write(`INSTANCE "${'x'.repeat(300)}`);
      write('" MASTER 1\nINSTANCE "furiwake_4" MASTER 150\n');
      await until(() => events.length >= 2 && rejected.length >= 2);
      assert.deepEqual(events.map((e) => `${e.name} ${e.role} ${e.priority}`), ['furiwake_4 backup 150', 'furiwake_4 master 150']);
      assert.equal(rejected.length, 2);
      assert.equal(fifo.rejected, 2);
    } finally {
      fifo.close();
    }
  });
});

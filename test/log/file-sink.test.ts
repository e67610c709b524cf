// A log file that cannot take its lines (a full disk: /dev/full) loses them, counted and told
// once; the caller never waits nor sees an error. Lines beyond the buffer are dropped too.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileSink } from '../../src/log/file-sink.ts';
import { LogKind, Severity } from '../../src/log/sink.ts';
import { tempDir } from '../helpers/files.ts';
import { fileLines } from './helpers.ts';

describe('a log file', () => {
  it('drops and counts the lines a full disk refuses, and says so once', { skip: !existsSync('/dev/full') }, async () => {
    const told: string[] = [];
    const sink = new FileSink('/dev/full', 1024 * 1024, (message) => told.push(message));
    for (let i = 0; i < 100; i++) sink.write(`line ${i}`, Severity.INFO, LogKind.ACCESS);
    await sink.close();
    assert.equal(sink.dropped, 100);
    assert.deepEqual(told, ['cannot write a log file; its lines are dropped until it can']);
  });

  it('drops what does not fit in its buffer', async () => {
    const file = join(await tempDir('file-sink'), 'a.log');
    const sink = new FileSink(file, 64, () => {});
    // the lines of this turn wait for one write, up to 64 characters; the rest are dropped
    for (let i = 0; i < 20; i++) sink.write(`line ${String(i).padStart(2, '0')}`, Severity.INFO, LogKind.ACCESS);
    await sink.close();
    const lines = await fileLines(file, 1);
    assert.equal(lines.length + sink.dropped, 20);
    assert.ok(sink.dropped > 0);
    assert.deepEqual(lines, lines.toSorted());
    assert.equal(lines[0], 'line 00');
  });
});

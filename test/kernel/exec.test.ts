// Running a command-line tool (nft, conntrack, ip) as a child: bounded output, killed at its timeout
// even when it ignores SIGTERM, every failure a rejection with the tool's words. No namespaces.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exec, ExecError } from '../../src/kernel/exec.ts';

describe('exec', () => {
  it('gives the output of a tool that succeeds, and its stderr when it fails', async () => {
    assert.deepEqual(await exec('/bin/sh', ['-c', 'cat; echo warn >&2'], 'table ip t {}\n'), { stdout: 'table ip t {}\n', stderr: 'warn\n' });
    await assert.rejects(exec('/bin/sh', ['-c', 'echo "Error: syntax error" >&2; exit 1']), (err: ExecError) => {
      assert.equal(err.message, '/bin/sh -c echo "Error: syntax error" >&2; exit 1: Error: syntax error');
      assert.equal(err.code, 1);
      return true;
    });
  });

  it('kills a tool that never exits, even one that ignores SIGTERM, with what it started', { timeout: 10_000 }, async () => {
    // the background sleep holds the pipes: the call ends only once it is killed too
    await assert.rejects(exec('/bin/sh', ['-c', 'trap "" TERM; sleep 1000 & wait'], '', { timeout: 200 }), /no answer after 0\.2s: killed$/);
  });

  it('kills a tool that prints more than the bound, and keeps no more than it', async () => {
    await assert.rejects(exec('/bin/sh', ['-c', 'exec cat /dev/zero'], '', { maxOutput: 1 << 20 }), /output exceeds 1048576 bytes$/);
  });

  it('a tool killed by a signal, one that closes its stdout early, one that does not read its input', async () => {
    await assert.rejects(exec('/bin/sh', ['-c', 'kill -KILL $$']), /killed by SIGKILL$/);
    assert.deepEqual(await exec('/bin/sh', ['-c', 'exec >&-; sleep 0; exit 0']), { stdout: '', stderr: '' });
    assert.deepEqual(await exec('/bin/true', [], 'x'.repeat(1 << 20)), { stdout: '', stderr: '' });
  });

  it('a tool that does not exist: a rejection naming it, and no timer left behind', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await assert.rejects(exec('/nonexistent/nft', []), /^Error: \/nonexistent\/nft: spawn \/nonexistent\/nft ENOENT$/);
    assert.equal(timers(), before);
  });
});

// The script monitor with real commands: exit codes, output in the reason, the member in the
// environment, a hanging script killed with everything it started, a missing command.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { ScriptMonitor } from '../../../src/config/health-types.ts';
import { createScriptMonitor } from '../../../src/health/monitors/script.ts';
import { COMMON, never, tcpPeer } from '../helpers-basic.ts';
import { tempDir } from '../../helpers/files.ts';
import { checkHandles } from '../../helpers/handles.ts';

function script(command: string, args: string[] = []): ScriptMonitor {
  return { ...COMMON, type: 'script', command, args };
}
const sh = (code: string, ...args: string[]) => script('/bin/sh', ['-c', code, 'check', ...args]);
const member = { host: 'web1.example', ip: '127.0.0.1', port: 8080 };

/**
 * Whether process `pid` still runs: not when it is gone, a zombie waiting to be reaped (Z, X),
 * or already exiting (PF_EXITING, set before its files are closed and before it turns zombie).
 */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return false;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const PF_EXITING = 0x4;
  return !['Z', 'X'].includes(fields[0]) && (Number(fields[6]) & PF_EXITING) === 0;
}

describe('script monitor', () => {
  let dir: string;
  before(async () => (dir = await tempDir('script')));
  checkHandles();

  test('exit 0: up', async () => {
    assert.deepEqual(await createScriptMonitor(script('true')).run(member, never()), { up: true, reason: 'exit 0' });
  });

  test('exit 1: down, with the first line of its stderr', async () => {
    const monitor = createScriptMonitor(sh('echo "all good so far"; echo "disk full on /var" >&2; echo "second line" >&2; exit 1'));
    assert.deepEqual(await monitor.run(member, never()), { up: false, reason: 'exit 1: disk full on /var' });
  });

  test('a non-zero exit with only stdout: its first line; with no output: the code alone', async () => {
    const quiet = createScriptMonitor(sh('echo; echo "  backend says no  "; exit 2'));
    assert.deepEqual(await quiet.run(member, never()), { up: false, reason: 'exit 2: backend says no' });
    assert.deepEqual(await createScriptMonitor(sh('exit 3')).run(member, never()), { up: false, reason: 'exit 3' });
  });

  test('killed by a signal: down, killed by SIGTERM', async () => {
    const monitor = createScriptMonitor(sh('kill -TERM $$'));
    assert.deepEqual(await monitor.run(member, never()), { up: false, reason: 'killed by SIGTERM' });
  });

  test('the member is in the environment, with the rest of ours', async () => {
    const out = join(dir, 'env.txt');
    process.env.FURIWAKE_TEST_INHERITED = 'yes';
    const monitor = createScriptMonitor(sh(
      'printf "%s|%s|%s|%s" "$FURIWAKE_MEMBER_HOST" "$FURIWAKE_MEMBER_ADDRESS" "$FURIWAKE_MEMBER_PORT" "$FURIWAKE_TEST_INHERITED" > "$1"',
      out,
    ));
    try {
      assert.deepEqual(await monitor.run(member, never()), { up: true, reason: 'exit 0' });
    } finally {
      delete process.env.FURIWAKE_TEST_INHERITED;
    }
    assert.equal(await readFile(out, 'utf8'), 'web1.example|127.0.0.1|8080|yes');
  });

  test('arguments are passed as they are, without a shell', async () => {
    const out = join(dir, 'args.txt');
    const monitor = createScriptMonitor(script('/bin/sh', ['-c', 'printf "%s\\n" "$@" > "$0"', out, 'a b', '$HOME', '*']));
    assert.deepEqual(await monitor.run(member, never()), { up: true, reason: 'exit 0' });
    assert.equal(await readFile(out, 'utf8'), 'a b\n$HOME\n*\n');
  });

  // The scripts below report to `reporter` over one TCP connection (bash's /dev/tcp) that they
  // and their background `sleep` share: the connection closes only when both have died, which
  // is how the test learns it without polling.
  async function reporter(): Promise<{ line: Promise<string>; gone: () => Promise<void>; port: number; close(): Promise<void> }> {
    const line = Promise.withResolvers<string>();
    let text = '';
    const peer = await tcpPeer((socket) => socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) line.resolve(text.trim());
    }));
    return { line: line.promise, gone: () => peer.closed(1), port: peer.port, close: () => peer.close() };
  }

  test('a script that hangs: killed at the abort with what it started, and only then settled', async () => {
    const report = await reporter();
    const monitor = createScriptMonitor(script('/bin/bash', ['-c',
      'exec 3<>/dev/tcp/127.0.0.1/$0; sleep 1000 >&3 & echo "$$ $!" >&3; wait', String(report.port)]));
    const controller = new AbortController();
    const check = monitor.run(member, controller.signal);
    try {
      const [shell, sleeper] = (await report.line).split(' ').map(Number);
      assert.equal(await running(shell), true);
      assert.equal(await running(sleeper), true);
      controller.abort();
      const result = await check;
      assert.equal(result.up, false);
      assert.equal(await running(shell), false); // the script itself is gone (reaped) when the check settles
      await report.gone(); // and its child closed its end: it died too
      assert.equal(await running(sleeper), false);
    } finally {
      controller.abort(); // never leave the script running when an assertion failed
      await check;
      await report.close();
    }
  });

  test('a script that exits leaving a child behind: the child goes with it', async () => {
    const report = await reporter();
    const monitor = createScriptMonitor(script('/bin/bash', ['-c',
      'exec 3<>/dev/tcp/127.0.0.1/$0; sleep 1000 >&3 & echo "$!" >&3; exit 0', String(report.port)]));
    assert.deepEqual(await monitor.run(member, never()), { up: true, reason: 'exit 0' });
    const sleeper = Number(await report.line);
    await report.gone(); // the sleep would hold the connection for 1000 s
    assert.equal(await running(sleeper), false);
    await report.close();
  });

  test('a script that closes its stdout and stderr at once and hangs: killed at the abort all the same', async () => {
    const report = await reporter();
    const monitor = createScriptMonitor(script('/bin/bash', ['-c',
      'exec 3<>/dev/tcp/127.0.0.1/$0; exec 1>&- 2>&-; echo "$$" >&3; exec sleep 1000', String(report.port)]));
    const controller = new AbortController();
    const check = monitor.run(member, controller.signal);
    try {
      const pid = Number(await report.line);
      assert.equal(await running(pid), true);
      controller.abort();
      assert.equal((await check).up, false);
      await report.gone();
      assert.equal(await running(pid), false);
    } finally {
      controller.abort();
      await check;
      await report.close();
    }
  });

  test('a script that closes its stdout early and exits 0: up', async () => {
    assert.deepEqual(await createScriptMonitor(sh('exec >&- 2>&-; exit 0')).run(member, never()), { up: true, reason: 'exit 0' });
  });

  test('a script that prints 32 MB: read to the end (it is not blocked), one bounded line in the reason', async () => {
    const monitor = createScriptMonitor(sh('head -c 33554432 /dev/zero | tr "\\0" x; echo; echo done >&2; exit 1'));
    assert.deepEqual(await monitor.run(member, never()), { up: false, reason: 'exit 1: done' });
    const stdout = createScriptMonitor(sh('head -c 33554432 /dev/zero | tr "\\0" x; exit 1'));
    assert.deepEqual(await stdout.run(member, never()), { up: false, reason: `exit 1: ${'x'.repeat(200)}…` });
  });

  test('output with control characters: the reason shows it without them', async () => {
    const monitor = createScriptMonitor(sh('printf "\\033[2Jdisk\\007 full\\r\\n" >&2; exit 1'));
    assert.deepEqual(await monitor.run(member, never()), { up: false, reason: 'exit 1: [2Jdisk full' });
  });

  test('an argument node refuses before starting anything (a NUL byte): down with the reason, no rejection', async () => {
    const result = await createScriptMonitor(script('/bin/echo', ['a\0b'])).run(member, never());
    assert.equal(result.up, false);
    assert.match(result.reason, /^cannot run the command: .*null bytes/);
  });

  test('a command that does not exist: command not found', async () => {
    const result = await createScriptMonitor(script(join(dir, 'no-such-check'))).run(member, never());
    assert.deepEqual(result, { up: false, reason: 'command not found' });
    const onPath = await createScriptMonitor(script('furiwake-no-such-command')).run(member, never());
    assert.deepEqual(onPath, { up: false, reason: 'command not found' });
  });

  test('a file that is not executable: permission denied', async () => {
    const result = await createScriptMonitor(script(dir)).run(member, never());
    assert.deepEqual(result, { up: false, reason: 'permission denied' });
  });

  test('an already aborted signal: nothing is started', async () => {
    const out = join(dir, 'started.txt');
    const controller = new AbortController();
    controller.abort();
    const result = await createScriptMonitor(sh('touch "$1"', out)).run(member, controller.signal);
    assert.equal(result.up, false);
    await assert.rejects(readFile(out), { code: 'ENOENT' });
  });
});

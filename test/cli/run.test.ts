// Running until a signal: a reload or a stop that throws (a bug in applying a config, not a bad
// config) is logged; it never becomes an unhandled rejection, which would end the process.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Furiwake } from '../../src/app.ts';
import { runUntilSignal } from '../../src/cli/run.ts';
import type { Config } from '../../src/config/types.ts';
import { createLogger } from '../../src/log.ts';
import { logSink } from '../helpers/app.ts';
import { until } from '../helpers/wait.ts';

/** An app whose reload and stop throw (or not), as the signals reach them. */
function brokenApp(stopThrows: boolean): Furiwake {
  return {
    reload: () => Promise.reject(new Error('injected reload failure')),
    stop: () => (stopThrows ? Promise.reject(new Error('injected stop failure')) : Promise.resolve()),
    runtime: { connections: { list: () => [] } },
  } as unknown as Furiwake;
}

it('logs a reload that throws while being applied and goes on; a stop that throws ends with status 1', async () => {
  const { sink, lines } = logSink();
  const log = createLogger('info', sink);
  const running = runUntilSignal(brokenApp(false), log, () => 0, () => Promise.resolve({} as Config));
  process.emit('SIGHUP');
  await until(() => lines.some((l) => l.msg === 'reload failed while being applied'));
  // still running: the next signal stops it
  process.emit('SIGTERM');
  assert.equal(await running, 0);

  const failing = runUntilSignal(brokenApp(true), log, () => 0, null);
  process.emit('SIGTERM');
  assert.equal(await failing, 1);
  const said = lines.find((l) => l.msg === 'stopping failed');
  assert.equal((said?.err as { message?: string } | undefined)?.message, 'injected stop failure');
});

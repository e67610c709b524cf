import { Furiwake } from '../app.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import { createLogger } from '../log.ts';
import { raiseFileLimit } from '../runtime/fd-budget.ts';
import { runUntilSignal } from './run.ts';

export async function runStart(file: string): Promise<number> {
  let config;
  try {
    config = await loadConfig(file);
  } catch (err) {
    process.stderr.write((err instanceof ConfigError ? err.format() : `${file}: ${(err as Error).message}`) + '\n');
    return 1;
  }
  const log = createLogger(config.global.logLevel);
  // Descriptors are what a flood uses up: take all the system allows, once, before any socket.
  const raised = raiseFileLimit();
  if (raised.error !== null) log.warn({ limit: raised.before, reason: raised.error }, 'cannot raise the file descriptor limit; the budget is the current limit');
  else if (raised.before !== null && raised.after !== null && raised.before.soft !== raised.after.soft) log.info({ from: raised.before.soft, to: raised.after.soft }, 'file descriptor limit raised to the hard limit');
  // A reload asked for while starting (a service manager's reload racing the start) would end the
  // process by SIGHUP's default action: it is ignored, and said so, until the handlers are in.
  const early = (): void => log.warn('SIGHUP while starting: ignored; send it again once "furiwake started" is logged');
  process.on('SIGHUP', early);
  // SIGUSR1's default in Node.js opens the debugger: while starting the files are opened anyway
  const earlyUsr1 = (): void => {};
  process.on('SIGUSR1', earlyUsr1);
  let app: Furiwake;
  try {
    // the admin API's reload reads the file again, as SIGHUP does
    app = await Furiwake.start(config, log, { load: () => loadConfig(file) });
  } catch (err) {
    process.off('SIGHUP', early).off('SIGUSR1', earlyUsr1);
    log.fatal({ reason: (err as Error).message }, 'cannot start');
    return 1;
  }
  const reload = async () => {
    try {
      return await loadConfig(file);
    } catch (err) {
      throw err instanceof ConfigError ? new Error(err.format()) : err;
    }
  };
  const running = runUntilSignal(app, log, () => app.runtime.config?.global.shutdownGrace ?? 10_000, reload);
  // only now: SIGHUP must never be without a listener, or its default action ends the process
  process.off('SIGHUP', early).off('SIGUSR1', earlyUsr1);
  // Logged once the signal handlers are in: whoever waits for this line may signal at once.
  log.info({ file, pid: process.pid }, 'furiwake started');
  return running;
}

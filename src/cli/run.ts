// Running until a signal: SIGTERM/SIGINT stop gracefully (a second one stops at once),
// SIGHUP reloads through the given function and keeps the running config when it fails,
// SIGUSR1 reopens the log files (after logrotate renamed them).

import { Furiwake } from '../app.ts';
import type { Config } from '../config/types.ts';
import type { Logger } from '../log.ts';

export async function runUntilSignal(app: Furiwake, log: Logger, grace: () => number, reload: (() => Promise<Config>) | null): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onStop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'stopping now');
        for (const entry of [...app.runtime.connections.list()]) entry.abort();
        // the workers' connections are theirs: a stop without grace reaches them
        void app.workers?.stop(0);
        return;
      }
      stopping = true;
      log.info({ signal, grace: grace() }, 'stopping: no new connections');
      // (a stop that throws is a bug: it is said, and the command ends with status 1)
      app.stop(grace()).then(
        () => done(0, () => log.info('stopped')),
        (err: unknown) => done(1, () => log.error({ err }, 'stopping failed')),
      );
    };
    const done = (status: number, say: () => void): void => {
      process.off('SIGTERM', onStop).off('SIGINT', onStop).off('SIGHUP', onHup).off('SIGUSR1', onUsr1);
      say();
      resolve(status);
    };
    const onHup = (): void => {
      if (reload === null || stopping) return;
      log.info('SIGHUP: reloading');
      reload().then(
        (config) => app.reload(config).then(
          (problems) => {
            if (problems.length > 0) log.error({ problems }, 'reload applied, with problems');
          },
          // a throw while applying is a bug: said, and the process goes on with what was applied
          (err: unknown) => log.error({ err }, 'reload failed while being applied'),
        ),
        (err: Error) => log.error({ reason: err.message }, 'reload failed; the running config stays'),
      );
    };
    // logrotate renamed the log files: each thread opens them again by path
    const onUsr1 = (): void => {
      const problems = app.reopenLogs();
      if (problems.length > 0) log.warn({ problems }, 'SIGUSR1: cannot reopen log files; writing on to the files open before');
      else log.info('SIGUSR1: log files reopened');
    };
    process.on('SIGTERM', onStop).on('SIGINT', onStop).on('SIGHUP', onHup).on('SIGUSR1', onUsr1);
  });
}

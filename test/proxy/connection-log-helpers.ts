// The connection log tests' app: furiwake with its process log kept, and the 'connection' lines
// (tcp and udp services with access-log: true) awaited one by one.

import { after } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';
import { createLogger } from '../../src/log.ts';
import { logSink } from '../helpers/app.ts';
import { until } from '../helpers/wait.ts';

/** furiwake on `config`, stopped when the test file ends; next(n) resolves with the n-th connection line. */
export async function logged(config: Config) {
  const { sink, lines } = logSink();
  const app = await Furiwake.start(config, createLogger('info', sink));
  after(() => app.stop(0));
  const connections = () => lines.filter((l) => l.msg === 'connection');
  const next = async (n: number) => {
    await until(() => connections().length >= n, sink, 'line');
    return connections()[n - 1];
  };
  return { app, port: app.address('svc').port, connections, next };
}

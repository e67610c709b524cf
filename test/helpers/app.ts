import { after } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';
import { createLogger } from '../../src/log.ts';

/** Starts furiwake on a config; it is stopped when the test file ends. */
export async function startApp(config: Config): Promise<Furiwake> {
  const app = await Furiwake.start(config, createLogger('silent'));
  after(() => app.stop(0));
  return app;
}

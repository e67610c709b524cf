// The `systemd-unit` command: reads the config (when one is named) to size the unit for it.

import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../config/load.ts';
import { DEFAULT_CONFIG, systemdUnit } from './systemd-unit.ts';

export async function runSystemdUnit(file: string | undefined): Promise<number> {
  if (file === undefined) {
    process.stdout.write(systemdUnit({ configFile: DEFAULT_CONFIG, config: null }));
    return 0;
  }
  const configFile = resolve(file);
  try {
    process.stdout.write(systemdUnit({ configFile, config: await loadConfig(configFile) }));
    return 0;
  } catch (err) {
    process.stderr.write(err instanceof ConfigError ? `${err.format()}\n` : `${file}: ${(err as Error).message}\n`);
    return 1;
  }
}

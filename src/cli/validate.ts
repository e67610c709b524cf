import { ConfigError, loadConfig } from '../config/load.ts';

export async function runValidate(file: string): Promise<number> {
  try {
    const config = await loadConfig(file);
    const services = Object.keys(config.services).length;
    const pools = Object.keys(config.pools).length;
    process.stdout.write(`${file}: valid (${services} service${services === 1 ? '' : 's'}, ${pools} pool${pools === 1 ? '' : 's'})\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.format() + '\n');
      return 1;
    }
    process.stderr.write(`${file}: ${(err as Error).message}\n`);
    return 1;
  }
}

// Runs one tier of the tests: `node test/tiers.ts <tier> [options for node --test]`, or
// `--list` to print each test file with its tier. test/README.md says what each tier is for.
//
// A file's tier follows from its path alone, so a new test file lands in exactly one tier and no
// list has to be kept: the first rule that matches wins. `npm test` runs every file, whatever its tier.

import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TIERS = ['unit', 'integration', 'kernel', 'browser', 'soak'] as const;
export type Tier = (typeof TIERS)[number];

/** The pure layers' tests (no socket, no child process, no root): algorithms, persistence, config. */
const PURE_DIRS = ['test/balance/', 'test/persistence/', 'test/config/'];

/** The tier of a test file, given by its path relative to the repository (with `/`). */
export function tierOf(file: string): Tier {
  if (file.startsWith('test/kernel/') || file.endsWith('.kernel.test.ts')) return 'kernel';
  if (file.endsWith('.browser.test.ts')) return 'browser';
  if (file.endsWith('.soak.test.ts')) return 'soak';
  if (PURE_DIRS.some((dir) => file.startsWith(dir))) return 'unit';
  // parsers of outside bytes, fuzzed in memory
  if (file.includes('/fuzz/') || file.endsWith('-fuzz.test.ts')) return 'unit';
  return 'integration';
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export function testFiles(): string[] {
  return globSync('test/**/*.test.ts', { cwd: ROOT }).map((f) => f.split('\\').join('/')).sort();
}

function main(args: string[]): number {
  const [tier, ...options] = args;
  if (tier === '--list') {
    for (const file of testFiles()) console.log(`${tierOf(file).padEnd(12)} ${file}`);
    return 0;
  }
  if (!(TIERS as readonly string[]).includes(tier)) {
    console.error(`usage: node test/tiers.ts <${TIERS.join('|')}> [node --test options] | --list`);
    return 2;
  }
  const files = testFiles().filter((f) => tierOf(f) === tier);
  const env = { ...process.env };
  if (tier === 'unit') {
    // the tier a developer runs all the time: a tenth of the fuzz inputs (FURIWAKE_TEST_TIER=full for all)
    env.FURIWAKE_TEST_TIER ??= 'fast';
    // pure tests share one process: starting a process per file would cost more than the tests
    options.unshift('--test-isolation=none');
  }
  const run = spawnSync(process.execPath, ['--test', ...options, ...files], { cwd: ROOT, env, stdio: 'inherit' });
  return run.status ?? 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));

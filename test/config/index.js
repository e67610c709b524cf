// `node --test test/config/` hands this directory to Node as one module, so it must be one:
// it imports every test file here, which runs the same tests as `node --test "test/config/*.test.ts"`.
import { readdirSync } from 'node:fs';

const files = readdirSync(import.meta.dirname).filter((name) => name.endsWith('.test.ts')).sort();
for (const name of files) await import(`./${name}`);

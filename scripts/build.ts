// Builds the published package's JavaScript (run by `npm pack` through `prepack`): dist/ holds
// src/ compiled by tsconfig.build.json, plus the dashboard's static files, which are served as
// they are. A checkout never needs it: bin/furiwake.js runs src/ directly when src/ is there.

import { cpSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist`, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
cpSync(`${root}src/admin/static`, `${root}dist/admin/static`, {
  recursive: true,
  // the dashboard's type-check config is for development only
  filter: (source) => !source.endsWith('tsconfig.json'),
});

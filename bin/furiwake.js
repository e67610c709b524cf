#!/usr/bin/env node
// furiwake's command. In a checkout the sources are TypeScript run directly by Node.js 24's type
// stripping (src/ is there); the installed package holds them built to JavaScript in dist/
// (Node.js strips no types inside node_modules). An older Node gets a clear message instead of
// a syntax error.
import { existsSync } from 'node:fs';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`furiwake needs Node.js 24 or newer (this is ${process.version}).\n` +
    'Install Node.js 24, or run it through npm in a checkout (npx furiwake ...), which uses the Node.js 24 that `npm install` brought in.\n');
  process.exit(1);
}
const checkout = existsSync(new URL('../src/cli/main.ts', import.meta.url));
// the built modules' stack traces name the TypeScript lines they came from
if (!checkout) process.setSourceMapsEnabled(true);
const { main } = await import(checkout ? '../src/cli/main.ts' : '../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));

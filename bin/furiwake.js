#!/usr/bin/env node
// furiwake's command. The sources are TypeScript run directly by Node.js 24's type stripping,
// so there is no build step; an older Node gets a clear message instead of a syntax error.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`furiwake needs Node.js 24 or newer (this is ${process.version}).\n` +
    'Run it through npm (npx furiwake ...), which uses the Node.js 24 that `npm install` brought in.\n');
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

// Stands in for keepalived where the test has no root: it reads the config furiwake wrote, reports
// BACKUP then MASTER for each instance on the notify FIFO, says on stdout when it is reloaded
// (SIGHUP, with a warning on stderr as keepalived gives one), and reports STOP before it exits on SIGTERM. Run as `node fake-keepalived.ts --use-file=...`.

import { readFileSync, writeFileSync } from 'node:fs';

const conf = process.argv.find((a) => a.startsWith('--use-file='))!.slice('--use-file='.length);
const text = readFileSync(conf, 'utf8');
const fifo = /vrrp_notify_fifo "([^"]+)"/.exec(text)![1];
const instances = [...text.matchAll(/^vrrp_instance (\S+) \{/gm)].map((m) => m[1]);
const priority = /priority (\d+)/.exec(text)![1];
const report = (state: string): void => {
  for (const name of instances) writeFileSync(fifo, `INSTANCE "${name}" ${state} ${priority}\n`, { flag: 'a' });
};
report('BACKUP');
report('MASTER');
console.log('fake keepalived running');
process.on('SIGHUP', () => {
  console.log('fake keepalived reloaded');
  // as keepalived says of a reloaded config it cannot fully take
  console.error(`Wed Dec  2 07:36:46 2026: (${conf}: Line 20) WARNING - interface eth0 for vrrp_instance ${instances[0]} doesn't exist`);
});
process.on('SIGTERM', () => {
  report('STOP');
  process.exit(0);
});
setInterval(() => {}, 1 << 30);

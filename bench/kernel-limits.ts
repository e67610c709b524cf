// What counting max-connections costs with a large conntrack table: CPU time (furiwake's and the
// conntrack tool's) per count, one listing per service (as before) against one listing for all
// (src/kernel/limits.ts). Needs root: it makes a network namespace, fills its conntrack table
// with ENTRIES connections (client -> VIP:80..89, translated to one of three members; a quarter
// in TIME_WAIT) inserted with `conntrack -R`, measures, and removes the namespace.
//
//   node bench/kernel-limits.ts [ENTRIES=100000] [SERVICES=10] [ROUNDS=10]

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listConnections, listing, scanConntrack } from '../src/kernel/conntrack.ts';
import { exec, findExecutable } from '../src/kernel/exec.ts';
import { isOpen } from '../src/kernel/reading.ts';

const VIP = '10.88.2.100';
const MEMBERS = ['10.88.2.11', '10.88.2.12', '10.88.2.13'];

/** Seconds of CPU this process and the children it waited for have used (/proc/self/stat). */
function cpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime stime cutime cstime are fields 14-17 of stat, 12-15 after the name
  return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / 100;
}

async function measure(services: number, rounds: number): Promise<void> {
  const conntrack = findExecutable('conntrack');
  if (conntrack === null) throw new Error('conntrack not found on PATH');
  const ports = Array.from({ length: services }, (_, i) => 80 + i);
  const targets = new Map<string, number>();
  for (const port of ports) for (const m of MEMBERS) targets.set(`tcp ${VIP} ${port} ${m} 80`, 0);

  const perService = async (): Promise<number> => {
    let open = 0;
    for (const port of ports) {
      for (const e of await listConnections(conntrack, { protocol: 'tcp', vip: VIP, port })) if (isOpen(e.protocol, e.state)) open++;
    }
    return open;
  };
  const oneListing = async (): Promise<number> => {
    let open = 0;
    const text = await listing(conntrack, { family: 'ipv4', protocol: 'tcp', vip: VIP });
    scanConntrack(text, (l) => {
      if (isOpen(l.protocol, l.state) && targets.has(`${l.protocol} ${l.original.dst} ${l.original.dport} ${l.reply.src} ${l.reply.sport}`)) open++;
    });
    return open;
  };
  for (const [name, count] of [['one listing per service (before)', perService], ['one listing for all (now)', oneListing]] as const) {
    const open = await count(); // warm-up, and the figure both must agree on
    const start = cpu();
    const wall = performance.now();
    for (let i = 0; i < rounds; i++) await count();
    const perTick = (cpu() - start) / rounds;
    console.log(`${name}: ${open} open connections counted; CPU ${(perTick * 1000).toFixed(0)} ms per count, wall ${((performance.now() - wall) / rounds).toFixed(0)} ms`);
  }
}

async function main(): Promise<void> {
  const [entries = 100_000, services = 10, rounds = 10] = process.argv.slice(2).map(Number);
  const ns = `fw-bench-${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'furiwake-bench-'));
  await exec('ip', ['netns', 'add', ns]);
  try {
    const lines: string[] = [];
    for (let i = 0; i < entries; i++) {
      const client = `10.${1 + (i >> 16 & 0x3f)}.${(i >> 8) & 0xff}.${i & 0xff}`;
      const sport = 1024 + (i % 60_000);
      const state = i % 4 === 0 ? 'TIME_WAIT' : 'ESTABLISHED';
      lines.push(`-I -p tcp -s ${client} -d ${VIP} --sport ${sport} --dport ${80 + (i % services)} -r ${MEMBERS[i % 3]} -q ${client} ` +
        `--reply-port-src 80 --reply-port-dst ${sport} -t 3600 --state ${state} -u ASSURED`);
    }
    const file = join(dir, 'entries');
    await writeFile(file, lines.join('\n') + '\n');
    await exec('ip', ['netns', 'exec', ns, 'conntrack', '-R', file], '', { timeout: 600_000 });
    const count = (await exec('ip', ['netns', 'exec', ns, 'conntrack', '-C'])).stdout.trim();
    console.log(`${count} conntrack entries in ${ns}, ${services} limited services, ${rounds} counts each`);
    const self = fileURLToPath(import.meta.url);
    const { stdout } = await exec('ip', ['netns', 'exec', ns, process.execPath, self, '--measure', String(services), String(rounds)], '', { timeout: 600_000 });
    process.stdout.write(stdout);
  } finally {
    await exec('ip', ['netns', 'delete', ns]);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--measure') await measure(Number(process.argv[3]), Number(process.argv[4]));
else await main();

// What counting max-connections costs with a large conntrack table: CPU time (furiwake's and the
// conntrack tool's) per count, one listing per service (as before) against one listing for all
// (src/kernel/open-connections.ts). Needs root: it makes a network namespace, fills its conntrack table
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
import { exec, findExecutable } from '../src/kernel/exec.ts';
import { openConnections } from '../src/kernel/open-connections.ts';
import { conntrackRows, isOpen } from '../src/kernel/reading.ts';
import type { KernelServiceView } from '../src/kernel/view.ts';
import type { Service } from '../src/runtime/service.ts';

const VIP = '10.88.2.100';
const MEMBERS = ['10.88.2.11', '10.88.2.12', '10.88.2.13'];

/** Seconds of CPU this process and the children it waited for have used (/proc/self/stat). */
function cpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime stime cutime cstime are fields 14-17 of stat, 12-15 after the name
  return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / 100;
}

async function measure(count: number, rounds: number): Promise<void> {
  const conntrack = findExecutable('conntrack');
  if (conntrack === null) throw new Error('conntrack not found on PATH');
  const tools = { nft: 'nft', conntrack };
  // the plane's views of `count` nat services, and their runtime services as far as counting reads them
  const services = Array.from({ length: count }, (_, i): [KernelServiceView, Service] => {
    const members = MEMBERS.map((ip, n) => ({ number: n, id: `${ip}:80`, ip, port: 80, weight: 1, backup: false, usable: true, serves: true }));
    const view: KernelServiceView = {
      name: `s${i}`, mode: 'nat', protocol: 'tcp', family: 'ip', vip: VIP, port: 80 + i, method: 'round-robin', members,
      persistence: null, sourceNat: false, interface: null, idle: 300_000, flowSize: 65_535, flushOnDown: false, accepting: true,
    };
    const service = { name: view.name, pool: { members: members.map((m) => ({ id: m.id, maxConnections: 1_000_000 })) } } as unknown as Service;
    return [view, service];
  });

  const perService = async (): Promise<number> => {
    let open = 0;
    for (const [view, service] of services) {
      for (const row of await conntrackRows(conntrack, view, service)) if (row.member !== null && isOpen(row.protocol, row.state)) open++;
    }
    return open;
  };
  const oneListing = async (): Promise<number> => {
    let open = 0;
    for (const n of (await openConnections(tools, services)).members.values()) open += n;
    return open;
  };
  for (const [name, run] of [['one listing per service (before)', perService], ['one listing for all (now)', oneListing]] as const) {
    const open = await run(); // warm-up, and the figure both must agree on
    const start = cpu();
    const wall = performance.now();
    for (let i = 0; i < rounds; i++) await run();
    const perCount = (cpu() - start) / rounds;
    console.log(`${name}: ${open} open connections counted; CPU ${(perCount * 1000).toFixed(0)} ms per count, wall ${((performance.now() - wall) / rounds).toFixed(0)} ms`);
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

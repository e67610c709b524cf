// What the kernel fast path costs to apply as pools grow: render + diff (furiwake's CPU) and
// `nft -f` (the kernel's transaction) for nat services of many members — one service of 1,000
// members, and 10 services of 100 — in full (the first apply) and for one member's change (a
// member going down: what health changes cost). Needs root and nft: it runs in a network
// namespace it makes and removes, so the host's ruleset is never touched.
//
//   node bench/kernel-ruleset.ts [members=1000] [rounds=5]

import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { exec } from '../src/kernel/exec.ts';
import { render } from '../src/kernel/render.ts';
import { transaction, type Applied } from '../src/kernel/transaction.ts';
import type { KernelMemberView, KernelServiceView } from '../src/kernel/view.ts';

function views(services: number, members: number, downs: number): KernelServiceView[] {
  return Array.from({ length: services }, (_, s): KernelServiceView => ({
    name: `s${s}`, mode: 'nat', protocol: 'tcp', family: 'ip', vip: '10.88.3.100', port: 80 + s, method: 'weighted',
    members: Array.from({ length: members }, (_, n): KernelMemberView => {
      const ip = `10.${90 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
      return { number: n, id: `${ip}:8080`, ip, port: 8080, weight: 1 + (n % 3), backup: false, usable: n >= downs, serves: n >= downs };
    }),
    persistence: null, sourceNat: false, interface: null, idle: 300_000, flowSize: 65_535, flushOnDown: false, accepting: true,
  }));
}

async function measure(members: number, rounds: number): Promise<void> {
  for (const [services, each] of [[1, members], [10, members / 10]] as const) {
    let fullRender = 0;
    let fullNft = 0;
    let oneRender = 0;
    let oneNft = 0;
    let lines = 0;
    let oneLines = 0;
    for (let r = 0; r < rounds; r++) {
      await exec('nft', ['flush', 'ruleset']);
      let t = performance.now();
      const first = transaction(null, render(views(services, each, 0)));
      fullRender += performance.now() - t;
      lines = first.script.split('\n').length;
      t = performance.now();
      await exec('nft', ['-f', '-'], first.script);
      fullNft += performance.now() - t;
      const applied: Applied = first.applied;
      t = performance.now();
      const next = transaction(applied, render(views(services, each, 1)));
      oneRender += performance.now() - t;
      oneLines = next.script.split('\n').length;
      t = performance.now();
      await exec('nft', ['-f', '-'], next.script);
      oneNft += performance.now() - t;
    }
    const f = (ms: number): string => `${(ms / rounds).toFixed(1)} ms`;
    console.log(`${services} nat service(s) x ${each} members: first apply render+diff ${f(fullRender)}, nft -f ${f(fullNft)} (${lines} lines); ` +
      `one member down: render+diff ${f(oneRender)}, nft -f ${f(oneNft)} (${oneLines} lines)`);
  }
}

async function main(): Promise<void> {
  const [members = 1000, rounds = 5] = process.argv.slice(2).map(Number);
  const ns = `fw-bench-${randomBytes(3).toString('hex')}`;
  await exec('ip', ['netns', 'add', ns]);
  try {
    const { stdout } = await exec('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), '--measure', String(members), String(rounds)], '', { timeout: 600_000 });
    process.stdout.write(stdout);
  } finally {
    await exec('ip', ['netns', 'delete', ns]);
  }
}

if (process.argv[2] === '--measure') await measure(Number(process.argv[3]), Number(process.argv[4]));
else await main();

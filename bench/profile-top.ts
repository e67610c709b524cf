// The top functions of a V8 CPU profile (`node --cpu-prof`) by self time, as shares of all
// samples: `node bench/profile-top.ts FILE.cpuprofile [N]`. Functions of the same name, file
// and line are added together (a profile has a node per call path).
// `node bench/profile-top.ts FILE.cpuprofile --in NAME[,NAME…]`: the ms spent in each function of
// that name and in what it calls (samples with it on the stack), for one step's cost.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, count = '10', within] = process.argv.slice(2);
if (file === undefined || (count === '--in' && within === undefined)) {
  console.error('usage: node bench/profile-top.ts FILE.cpuprofile [N | --in NAME[,NAME…]]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
if (count === '--in') {
  const parent = new Map<number, ProfileNode>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  for (const name of within!.split(',')) {
    // calls more than 100 ms apart are told apart: a start and each reload, one figure each
    const bursts: number[] = [];
    let at = 0;
    let last = -Infinity;
    profile.samples.forEach((id, i) => {
      at += profile.timeDeltas[i];
      for (let n = byId.get(id); n !== undefined; n = parent.get(n.id)) {
        if (n.callFrame.functionName !== name) continue;
        if (at - last > 100_000) bursts.push(0);
        bursts[bursts.length - 1] += profile.timeDeltas[i];
        last = at;
        break;
      }
    });
    const ms = bursts.map((us) => (us / 1000).toFixed(1));
    console.log(`${name} and what it calls, ms, each time apart: ${ms.join(', ') || 'never sampled'}`);
  }
  process.exit(0);
}
const nameOf = new Map<number, string>();
for (const { id, callFrame: f } of profile.nodes) {
  const where = f.url === '' ? '' : ` ${basename(f.url)}:${f.lineNumber + 1}`;
  nameOf.set(id, `${f.functionName || '(anonymous)'}${where}`);
}
const self = new Map<string, number>();
for (const id of profile.samples) {
  const name = nameOf.get(id)!;
  self.set(name, (self.get(name) ?? 0) + 1);
}
const total = profile.samples.length;
const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(count));
for (const [name, n] of top) console.log(`${((100 * n) / total).toFixed(1).padStart(5)} %  ${name}`);

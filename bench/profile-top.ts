// The top functions of a V8 CPU profile (`node --cpu-prof`) by self time, as shares of all
// samples: `node bench/profile-top.ts FILE.cpuprofile [N]`. Functions of the same name, file
// and line are added together (a profile has a node per call path).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

const [file, count = '10'] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node bench/profile-top.ts FILE.cpuprofile [N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
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

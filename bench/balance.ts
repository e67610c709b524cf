// Micro-benchmark of pick() for every algorithm: ns per pick for 3, 100 and 1000 candidates.
// Run: npx node bench/balance.ts   (or npm run bench:balance)
//
// Candidates have mixed weights, loads and latencies, 1 in 10 unusable, and every 8th pick
// carries a skip list of one (a retry), so the fallback paths are measured too.

import type { AlgorithmName, Candidate } from '../src/balance/index.ts';
import { ALGORITHMS, createBalancer, hashString } from '../src/balance/index.ts';

const SIZES = [3, 100, 1000];
const WARMUP_PICKS = 50_000;
const PICKS = 300_000;
const RUNS = 3;

interface BenchCandidate extends Candidate {
  active: number;
}

function candidates(count: number): BenchCandidate[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `10.0.${i >> 8}.${i & 255}:8080`,
    weight: 1 + (i % 5),
    active: (i * 7) % 13,
    latency: 5 + ((i * 11) % 40),
    usable: i % 10 !== 9,
  }));
}

// Client keys hashed up front: the benchmark measures pick(), not hashing.
const HASHES = Uint32Array.from({ length: 4096 }, (_, i) => hashString(`192.168.${i >> 8}.${i & 255}`));

/** Best of RUNS timings of PICKS picks, in ns per pick. */
function measure(name: AlgorithmName, count: number): number {
  const list = candidates(count);
  const balancer = createBalancer(name, list);
  const retry = [list[0]];
  let sink = 0;
  const run = (picks: number): void => {
    for (let i = 0; i < picks; i++) {
      const chosen = balancer.pick(HASHES[i & 4095], (i & 7) === 0 ? retry : null);
      if (chosen !== undefined) sink += chosen.weight;
    }
  };
  run(WARMUP_PICKS);
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const start = process.hrtime.bigint();
    run(PICKS);
    const ns = Number(process.hrtime.bigint() - start) / PICKS;
    if (ns < best) best = ns;
  }
  if (sink === 0) throw new Error('nothing was picked');
  return best;
}

const header = ['algorithm', ...SIZES.map((n) => `n=${n}`)];
const rows = ALGORITHMS.map((name) => [name, ...SIZES.map((n) => `${measure(name, n).toFixed(1)} ns`)]);
const widths = header.map((_, c) => Math.max(...[header, ...rows].map((row) => row[c].length)));
const line = (row: string[]): string =>
  `| ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;

console.log(`pick() cost, best of ${RUNS} x ${PICKS} picks, node ${process.version}\n`);
console.log(line(header));
console.log(`|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const row of rows) console.log(line(row));

// Micro-benchmark of pick() for every algorithm: ns per pick for 3 to 10,000 candidates.
// Run: npx node bench/balance.ts   (or npm run bench:balance)
//
// Candidates have mixed weights, loads and latencies, 1 in 10 unusable, and every 8th pick
// carries a skip list of one (a retry), so the fallback paths are measured too. The balancers
// are the ones pools use (createIndexedBalancer); `scan` is the form that reads every candidate
// (createBalancer), shown where it differs. Each pick takes a connection on the member it chose
// and ends one taken 64 picks before, and tells the balancer (changed()), as a pool does, so the
// cost of keeping the trees is in the figure. A second table shows pick() alone: nothing taken or
// given, so the trees never change but by the picks themselves.
//
// `--changes`: instead, what a member's state change costs the balancer a pool uses, at 1,000 and
// 10,000 members: a weight change (slow start, an operator, an agent: changed(), or update() for
// the algorithms that rebuild a table on it, rebuildsOnWeight), a health flip (changed()), and a
// weight change answered by a rebuild of the whole list (update(): what it cost before, and about
// what a reload costs).
//
// `--pool`: Pool.acquire() and release() on real members (runtime/pool.ts) at 1,000 and 10,000
// members, as a data plane calls them: the member's getters, its pool told of the take and the
// give, the balancer's lookup of the member; 64 connections held, 1 member in 10 down.

import type { AlgorithmName, Balancer, Candidate } from '../src/balance/index.ts';
import { algorithm, ALGORITHMS, createBalancer, createIndexedBalancer, hashString } from '../src/balance/index.ts';
import { PASSIVE_DEFAULTS } from '../src/config/passive-schema.ts';
import type { PoolConfig } from '../src/config/types.ts';
import { RuntimeEvents } from '../src/runtime/events.ts';
import type { Member } from '../src/runtime/member.ts';
import { Pool } from '../src/runtime/pool.ts';

const SIZES = [3, 100, 1000, 10_000];
const WARMUP_PICKS = 50_000;
const PICKS = 300_000;
const RUNS = 3;
/** connections open at once: each pick ends the one taken this many picks before */
const HELD = 64;

interface BenchCandidate extends Candidate {
  active: number;
  weight: number;
  usable: boolean;
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

/** Best of RUNS timings of PICKS picks (fewer for large scans), each with its take and give when `changes`, in ns per pick. */
function measure(name: AlgorithmName, count: number, scan: boolean, changes: boolean): number {
  const list = candidates(count);
  const balancer: Balancer<BenchCandidate> = scan ? createBalancer(name, list) : createIndexedBalancer(name, list);
  const retry = [list[0]];
  const held: (BenchCandidate | undefined)[] = new Array(HELD).fill(undefined);
  let sink = 0;
  const run = (picks: number): void => {
    for (let i = 0; i < picks; i++) {
      const chosen = balancer.pick(HASHES[i & 4095], (i & 7) === 0 ? retry : null);
      if (!changes) {
        if (chosen !== undefined) sink += chosen.weight;
        continue;
      }
      const done = held[i % HELD];
      if (done !== undefined) {
        done.active--;
        balancer.changed(done);
      }
      held[i % HELD] = chosen;
      if (chosen === undefined) continue;
      chosen.active++;
      balancer.changed(chosen);
      sink += chosen.weight;
    }
  };
  // a scan of a large pool is slow: fewer picks keep the run short
  const picks = scan ? Math.max(3000, Math.floor((PICKS * 100) / Math.max(100, count))) : PICKS;
  run(Math.min(WARMUP_PICKS, picks));
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    // CPU time, not wall time: other processes on a shared machine do not count
    const start = process.cpuUsage();
    run(picks);
    const used = process.cpuUsage(start);
    const ns = ((used.user + used.system) * 1000) / picks;
    if (ns < best) best = ns;
  }
  if (sink === 0) throw new Error('nothing was picked');
  return best;
}

/** CPU ns per call of `step`, the best of RUNS runs of `count` calls after a warm-up; `k` never repeats. */
function perCall(count: number, step: (k: number) => void): number {
  let k = 0;
  while (k < Math.min(count, 2000)) step(k++);
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const start = process.cpuUsage();
    for (let end = k + count; k < end;) step(k++);
    const used = process.cpuUsage(start);
    best = Math.min(best, ((used.user + used.system) * 1000) / count);
  }
  return best;
}

/** ns per weight change, health flip and whole rebuild, at `count` members. */
function changes(name: AlgorithmName, count: number): [number, number, number] {
  const list = candidates(count);
  const balancer: Balancer<BenchCandidate> = createIndexedBalancer(name, list);
  const rebuilds = algorithm(name).rebuildsOnWeight;
  // members in a fixed stride order, so the changes spread over the pool
  const at = (k: number): BenchCandidate => list[(k * 7919) % count];
  // a new weight each time, among a few (as an operator or an agent sets them) and fractions (slow start)
  const reweigh = (k: number): BenchCandidate => {
    const c = at(k);
    const to = (k & 3) === 0 ? 0.05 + (k % 20) / 20 : 1 + (k % 5);
    c.weight = to === c.weight ? to + 1 : to;
    return c;
  };
  const weight = perCall(rebuilds ? 20 : 100_000, (k) => {
    const c = reweigh(k);
    if (rebuilds) balancer.update(list);
    else balancer.changed(c);
  });
  const health = perCall(100_000, (k) => {
    const c = at(k);
    c.usable = !c.usable;
    balancer.changed(c);
  });
  // what a weight change cost before: the whole list rebuilt
  const rebuild = perCall(20, (k) => {
    reweigh(k);
    balancer.update(list);
  });
  if (balancer.pick(0, null) === undefined) throw new Error('nothing to pick');
  return [weight, health, rebuild];
}

/** ns per Pool.acquire() + release() at `count` members. */
function poolPick(name: AlgorithmName, count: number): number {
  const config: PoolConfig = {
    algorithm: name,
    members: Array.from({ length: count }, (_, i) => ({
      address: { host: `10.0.${i >> 8}.${i & 255}`, port: 8080, ip: `10.0.${i >> 8}.${i & 255}` },
      id: `m${i}`, weight: 1 + (i % 5), maxConnections: 0, backup: false, health: null,
    })),
    queue: { max: 0, timeout: 1000 },
    health: { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'up' },
    slowStart: 0, onMemberDown: null, passiveHealth: PASSIVE_DEFAULTS,
  };
  const events = new RuntimeEvents();
  const pool = new Pool('p', config, events);
  events.on('member', (member, change) => pool.memberChanged(member, change));
  pool.members.forEach((m, i) => {
    if (i % 10 === 9) m.setHealth('down');
    m.recordLatency(5 + ((i * 11) % 40));
  });
  const held: (Member | undefined)[] = new Array(HELD).fill(undefined);
  return perCall(PICKS, (k) => {
    const done = held[k % HELD];
    if (done !== undefined) pool.release(done, 0, 0);
    held[k % HELD] = pool.acquire(HASHES[k & 4095], null);
  });
}

const args = process.argv.slice(2);
if (args.includes('--pool')) {
  const only = args.filter((a) => a !== '--pool');
  const names = only.length > 0 ? ALGORITHMS.filter((n) => only.includes(n)) : ALGORITHMS;
  console.log(`Pool.acquire() + release(), CPU ns, best of ${RUNS} x ${PICKS}, node ${process.version}\n`);
  console.log('| algorithm | n=1000 | n=10000 |');
  console.log('|---|--:|--:|');
  for (const name of names) console.log(`| ${name} | ${poolPick(name, 1000).toFixed(0)} ns | ${poolPick(name, 10_000).toFixed(0)} ns |`);
  process.exit(0);
}
if (args.includes('--changes')) {
  const only = args.filter((a) => a !== '--changes');
  const names = only.length > 0 ? ALGORITHMS.filter((n) => only.includes(n)) : ALGORITHMS;
  const sizes = [1000, 10_000];
  console.log(`member state changes, CPU ns per change, best of ${RUNS}, node ${process.version}\n`);
  console.log(`| algorithm | ${sizes.map((n) => `weight n=${n}`).join(' | ')} | ${sizes.map((n) => `health n=${n}`).join(' | ')} | ${sizes.map((n) => `rebuild n=${n}`).join(' | ')} |`);
  console.log(`|---|${'--:|'.repeat(3 * sizes.length)}`);
  for (const name of names) {
    const cells = sizes.map((n) => changes(name, n));
    const column = (c: number): string => cells.map((cell) => `${cell[c].toFixed(0)} ns`).join(' | ');
    console.log(`| ${name} | ${column(0)} | ${column(1)} | ${column(2)} |`);
  }
  process.exit(0);
}

const only = args;
const names = only.length > 0 ? ALGORITHMS.filter((n) => only.includes(n)) : ALGORITHMS;
const header = ['algorithm', ...SIZES.map((n) => `n=${n}`)];
for (const changes of [true, false]) {
  const rows: string[][] = [];
  for (const name of names) {
    rows.push([name, ...SIZES.map((n) => `${measure(name, n, false, changes).toFixed(1)} ns`)]);
    if (algorithm(name).createIndexed !== undefined) {
      rows.push([`${name} (scan)`, ...SIZES.map((n) => `${measure(name, n, true, changes).toFixed(1)} ns`)]);
    }
  }
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((row) => row[c].length)));
  const line = (row: string[]): string =>
    `| ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  console.log(`${changes ? 'pick() + take + give' : '\npick() alone'}, CPU time, best of ${RUNS} x ${PICKS} picks, node ${process.version}\n`);
  console.log(line(header));
  console.log(`|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

// Issue 13's failover benchmark: how long a client cannot connect to the VIP when the master of a
// pair dies, at 1 s and 100 ms VRRP advertisements. In network namespaces (test/kernel/ha-net.ts:
// a client and two nodes on one segment); node 1 (priority 150) holds the VIP, its cable is pulled
// (its port on the segment goes down, as a dead host's would) at a random moment between two
// advertisements, and a client inside the client namespace times from that moment until a TCP
// connect to the VIP is answered by node 2. Ten failovers per interval; median and max.
//
// Columns: `keepalived` — two plain keepalived nodes (config written here) with a tiny TCP server
// on each; `furiwake` — two furiwake nodes with an ha section (keepalived underneath), a tcp service
// on the VIP. Run as root: `node bench/ha-failover.ts [keepalived|furiwake|all] [runs]`
// (`npm run bench:failover-ha`). The furiwake column needs a build whose `ha` section runs
// keepalived; FURIWAKE_BIN=<path of bin/furiwake.js> measures another checkout.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createPair, PAIR, type Pair } from '../test/kernel/ha-net.ts';

const BIN = process.env.FURIWAKE_BIN ?? fileURLToPath(new URL('../bin/furiwake.js', import.meta.url));
const SERVER = fileURLToPath(new URL('../test/kernel/peers/server.ts', import.meta.url));
const KINDS = ['keepalived', 'furiwake'] as const;
type Kind = (typeof KINDS)[number];
const WHICH = process.argv[2] ?? 'keepalived';
const RUNS = Number(process.argv[3] ?? 10);
const INTERVALS = [1_000, 100];
const PORT = 8080;
const ROUTER_ID = 42;
const PRIORITIES = [150, 100];
/** One connect attempt; a SYN sent to the dead node's MAC is lost, so attempts are short and repeated. */
const ATTEMPT_MS = 10;
const GIVE_UP_MS = 30_000;
if (!['keepalived', 'furiwake', 'all'].includes(WHICH) || !Number.isInteger(RUNS) || RUNS < 1) {
  throw new Error(`usage: node bench/ha-failover.ts [keepalived|furiwake|all] [runs], got ${process.argv.slice(2).join(' ')}`);
}

const tmp = mkdtempSync(join(tmpdir(), 'furiwake-ha-bench-'));

/** A running node of the pair: its processes, and how to stop them as an operator would (SIGTERM). */
interface Node {
  readonly name: string;
  /** resolves once the node has joined the election (keepalived said BACKUP or MASTER) */
  readonly joined: Promise<void>;
  stop(): Promise<void>;
}

/** Reads a child's output (so its pipes never fill); `seen(pattern)` resolves once it has printed a match. */
function watch(child: ChildProcess): (pattern: RegExp) => Promise<void> {
  let out = '';
  let waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    if (out.length > 1_000_000) out = out.slice(-100_000);
    const matched = waiters.filter((w) => w.pattern.test(out));
    waiters = waiters.filter((w) => !matched.includes(w));
    for (const w of matched) w.resolve();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return (pattern) => new Promise((resolve, reject) => {
    if (pattern.test(out)) return resolve();
    waiters.push({ pattern, resolve });
    child.once('exit', (code) => reject(new Error(`exited (${code}) before ${pattern}:\n${out.slice(-2000)}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

function keepalivedConfig(index: number, advert: number): string {
  return `global_defs {
  router_id n${index + 1}
  vrrp_version 3
}
vrrp_instance pair {
  state ${index === 0 ? 'MASTER' : 'BACKUP'}
  interface eth0
  virtual_router_id ${ROUTER_ID}
  priority ${PRIORITIES[index]}
  advert_int ${advert / 1000}
  virtual_ipaddress {
    ${PAIR.vip}/${PAIR.prefixLength} dev eth0
  }
}
`;
}

function furiwakeConfig(index: number, advert: number): string {
  return `global: { log-level: info }
services:
  www: { listen: ${PAIR.vip}:${PORT}, mode: tcp, pool: web }
pools:
  web: { members: [ { address: ${PAIR.servers[0]}:${PORT} } ] }
ha:
  interface: eth0
  router-id: ${ROUTER_ID}
  priority: ${PRIORITIES[index]}
  advert: ${advert}ms
  vips: [ ${PAIR.vip} ]
`;
}

/**
 * Starts node `index` of the pair in its namespace. keepalived: keepalived alone and a server on
 * the node that greets with the node's name. furiwake: furiwake with the pair's ha section; the
 * node's name comes from the member behind, so the client tells nodes apart by server (one server
 * per node here: server i is reached only through node i, since each node's pool is its own).
 */
async function startNode(kind: Kind, pair: Pair, index: number, advert: number): Promise<Node> {
  const ns = pair.nodes[index];
  const name = `n${index + 1}`;
  if (kind === 'keepalived') {
    const file = join(tmp, `keepalived-${name}.conf`);
    writeFileSync(file, keepalivedConfig(index, advert));
    const server = pair.spawn(ns, process.execPath, [SERVER, name, String(PORT)]);
    await watch(server)(/"ready"/);
    const pids = ['p', 'r', 'c'].flatMap((flag) => [`-${flag}`, join(tmp, `${name}-${flag}.pid`)]);
    const keepalived = pair.spawn(ns, 'keepalived', ['-n', '-l', '-D', '-P', '-f', file, ...pids]);
    const seen = watch(keepalived);
    return {
      name,
      joined: seen(/Entering (BACKUP|MASTER) STATE/),
      async stop() {
        await stopChild(keepalived);
        await stopChild(server);
      },
    };
  }
  const file = join(tmp, `furiwake-${name}.yaml`);
  writeFileSync(file, furiwakeConfig(index, advert).replace(`${PAIR.servers[0]}:`, `${PAIR.servers[index]}:`));
  const server = pair.spawn(pair.servers[index], process.execPath, [SERVER, name, String(PORT)]);
  await watch(server)(/"ready"/);
  const furiwake = pair.spawn(ns, process.execPath, [BIN, 'start', '-c', file]);
  const seen = watch(furiwake);
  return {
    name,
    joined: seen(/ha: this node is now (backup|master)/),
    async stop() {
      await stopChild(furiwake);
      await stopChild(server);
    },
  };
}

/**
 * The client, inside the client namespace: a node process that takes one JSON command a line.
 * `{ expect }`: connect until the VIP is answered by that node. `{ expect, cut }`: run `cut` (the
 * failure), then the same; it answers the ms from the end of `cut` to the first answer of `expect`.
 */
const CLIENT = `
const net = require('node:net');
const { execFileSync } = require('node:child_process');
const [vip, port, attemptMs, giveUpMs] = process.argv.slice(1);
function attempt() {
  return new Promise((resolve) => {
    const s = net.connect({ host: vip, port: Number(port) });
    const done = (name) => { s.destroy(); clearTimeout(t); resolve(name); };
    const t = setTimeout(() => done(null), Number(attemptMs));
    s.once('data', (d) => done(String(d).split('\\n')[0]));
    s.once('error', () => setTimeout(() => done(null), 1));
  });
}
let lines = '';
process.stdin.on('data', async (chunk) => {
  lines += chunk;
  let nl;
  while ((nl = lines.indexOf('\\n')) !== -1) {
    const cmd = JSON.parse(lines.slice(0, nl));
    lines = lines.slice(nl + 1);
    if (cmd.cut) execFileSync(cmd.cut[0], cmd.cut.slice(1));
    const t0 = performance.now();
    let attempts = 0;
    let got = null;
    while (got !== cmd.expect && performance.now() - t0 < Number(giveUpMs)) { attempts++; got = await attempt(); }
    process.stdout.write(JSON.stringify({ ms: got === cmd.expect ? performance.now() - t0 : null, attempts }) + '\\n');
  }
});
`;

interface Client {
  reach(expect: string, cut?: string[]): Promise<{ ms: number | null; attempts: number }>;
}

function startClient(pair: Pair): Client {
  const child = pair.spawn(pair.client, process.execPath, ['-e', CLIENT, PAIR.vip, String(PORT), String(ATTEMPT_MS), String(GIVE_UP_MS)]);
  child.stdout!.setEncoding('utf8');
  let buffered = '';
  const waiting: ((line: string) => void)[] = [];
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      waiting.shift()?.(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  return {
    reach(expect, cut) {
      const answer = new Promise<string>((resolve) => waiting.push(resolve));
      child.stdin!.write(JSON.stringify({ expect, cut }) + '\n');
      return answer.then((line) => JSON.parse(line));
    },
  };
}

/** One failover: both nodes started, node 1 holds the VIP, its cable is pulled; ms until node 2 answers. */
async function failover(kind: Kind, pair: Pair, client: Client, advert: number): Promise<number | null> {
  await pair.run(pair.client, 'ip', ['neigh', 'flush', 'all']);
  const first = await startNode(kind, pair, 0, advert);
  const second = await startNode(kind, pair, 1, advert);
  try {
    await Promise.all([first.joined, second.joined]);
    const ready = await client.reach('n1');
    if (ready.ms === null) throw new Error(`node 1 never answered on the VIP ${PAIR.vip}:${PORT}`);
    // a host dies at any moment between two advertisements, not just after one: a random phase
    await sleep(Math.random() * advert);
    const { ms } = await client.reach('n2', ['ip', '-n', pair.switch, 'link', 'set', 'f1', 'down']);
    return ms;
  } finally {
    await Promise.all([first.stop(), second.stop()]);
    await pair.unplug(0, false);
    // a node killed with its VIP still up would answer the next run's ARP: make sure it is gone
    for (const ns of pair.nodes) await pair.run(ns, 'ip', ['addr', 'flush', 'dev', 'eth0', 'to', `${PAIR.vip}/32`]);
  }
}

function summary(values: readonly (number | null)[]): string {
  const ok = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (ok.length === 0) return 'no failover completed';
  const median = ok.length % 2 === 1 ? ok[(ok.length - 1) / 2] : (ok[ok.length / 2 - 1] + ok[ok.length / 2]) / 2;
  const failed = values.length - ok.length;
  return `median ${median.toFixed(0)} ms, max ${ok[ok.length - 1].toFixed(0)} ms${failed > 0 ? ` (${failed} of ${values.length} did not complete within ${GIVE_UP_MS / 1000}s)` : ''}`;
}

async function main(): Promise<void> {
  const kinds = WHICH === 'all' ? KINDS : [WHICH as Kind];
  const pair = await createPair(2, 2);
  const stop = (): void => void pair.close().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const client = startClient(pair);
    console.log(`failover of a pair (node 1 priority ${PRIORITIES[0]}, node 2 ${PRIORITIES[1]}; node 1's cable pulled), ${RUNS} runs each`);
    for (const kind of kinds) {
      for (const advert of INTERVALS) {
        const times: (number | null)[] = [];
        for (let i = 0; i < RUNS; i++) times.push(await failover(kind, pair, client, advert));
        console.log(`${kind.padEnd(10)} advert ${String(advert).padStart(4)} ms: ${summary(times)}  [${times.map((t) => (t === null ? 'x' : t.toFixed(0))).join(' ')}]`);
      }
    }
  } finally {
    await pair.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();

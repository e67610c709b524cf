// The processes of a kernel test, each inside its namespace: real servers (peers/server.ts),
// the client agent (peers/client.ts), furiwake itself on the balancer, and tcpdump. Each one
// reports JSON lines (tcpdump: text lines) that the test waits on; topology.close() kills them.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from './namespaces.ts';
import { NET } from './netns.ts';

const NODE = process.execPath;
const SERVER = fileURLToPath(new URL('./peers/server.ts', import.meta.url));
const CLIENT = fileURLToPath(new URL('./peers/client.ts', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/furiwake.js', import.meta.url));
const WAIT = 20_000;

/** Lines a child writes, and a way to wait for one (searching those already written too). */
export class Lines {
  readonly all: string[] = [];
  readonly #child: ChildProcess;
  #waiters: { match: (line: string) => boolean; resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  #partial = '';
  #ended = false;

  constructor(child: ChildProcess, stream: 'stdout' | 'stderr' = 'stdout') {
    this.#child = child;
    child[stream]!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#partial += chunk;
      for (let nl = this.#partial.indexOf('\n'); nl !== -1; nl = this.#partial.indexOf('\n')) {
        const line = this.#partial.slice(0, nl);
        this.#partial = this.#partial.slice(nl + 1);
        this.all.push(line);
        this.#waiters = this.#waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
      }
    });
    child.on('exit', () => {
      this.#ended = true;
      for (const w of this.#waiters.splice(0)) w.reject(new Error(`process exited before the line; it wrote:\n${this.all.join('\n')}`));
    });
  }

  /** The first line (from `from` on) that `match` accepts. */
  wait(match: (line: string) => boolean, from = 0): Promise<string> {
    const found = this.all.slice(from).find(match);
    if (found !== undefined) return Promise.resolve(found);
    if (this.#ended) return Promise.reject(new Error(`process exited; it wrote:\n${this.all.join('\n')}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such line within ${WAIT} ms; got:\n${this.all.join('\n')}`)), WAIT);
      this.#waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)), reject: (e) => (clearTimeout(timer), reject(e)) });
    });
  }

  json(): Record<string, unknown>[] {
    return this.all.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  get child(): ChildProcess {
    return this.#child;
  }
}

// ---- servers --------------------------------------------------------------------------------

export interface PeerServer {
  name: string;
  address: string;
  out: Lines;
  /** client address:port of every TCP connection it accepted */
  tcpPeers(): string[];
  udpPeers(): string[];
  /**
   * Once it has reported `n` datagrams: a reply can reach the client before the server's report
   * of it reaches the test (one is the network, the other a pipe).
   */
  udpReported(n: number): Promise<void>;
  stop(): Promise<void>;
}

/** Server `s<index+1>` on `port` (TCP and UDP); UDP bound to `udpAddress` when given. */
export async function startServer(t: Lab & { servers: readonly string[] }, index: number, port = 80, udpAddress?: string): Promise<PeerServer> {
  const name = `s${index + 1}`;
  const child = t.spawn(t.servers[index], NODE, [SERVER, name, String(port), ...(udpAddress === undefined ? [] : [udpAddress])]);
  const out = new Lines(child);
  await out.wait((l) => l.includes('"ready"'));
  const peers = (event: string): string[] => out.json().filter((e) => e.event === event).map((e) => String(e.peer));
  return {
    name, address: NET.servers[index], out,
    tcpPeers: () => peers('tcp'),
    udpPeers: () => peers('udp'),
    async udpReported(n) {
      while (peers('udp').length < n) await out.wait((l) => l.includes('"event":"udp"'), out.all.length);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

// ---- the client agent -------------------------------------------------------------------------

export interface Answer {
  ok: boolean;
  error?: string;
  line?: string;
  local?: string;
  remote?: string;
  ending?: 'end' | 'reset';
  text?: string;
  from?: string;
}

export interface Client {
  /** a TCP connection to VIP:port; its id and the server's greeting */
  /** connects to the VIP (IPv4), or to `host` */
  connect(port: number, from?: string, host?: string): Promise<Answer & { conn: number }>;
  send(conn: number, text: string): Promise<Answer>;
  end(conn: number): Promise<Answer>;
  /** a datagram to the VIP (IPv4), or to `host` */
  udp(port: number, text: string, from?: string, host?: string): Promise<Answer>;
}

/** `n` connections in turn to vip:port (from `from`), each greeted and closed cleanly: the greetings. */
export async function greetings(client: Client, port: number, n: number, from?: string, vip: string = NET.vip): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = await client.connect(port, from, vip);
    assert.equal(c.ok, true, c.error);
    assert.equal(c.remote, `${vip}:${port}`);
    names.push(c.line!);
    assert.equal((await client.end(c.conn)).ending, 'end');
  }
  return names;
}

export async function startClient(t: Lab & { client: string }): Promise<Client> {
  const child = t.spawn(t.client, NODE, [CLIENT]);
  const out = new Lines(child);
  await out.wait((l) => l.includes('"ready"'));
  let lastId = 0;
  const ask = async (command: Record<string, unknown>): Promise<Answer & { conn: number }> => {
    const id = ++lastId;
    child.stdin!.write(JSON.stringify({ id, ...command }) + '\n');
    const line = await out.wait((l) => l.startsWith(`{"id":${id},`));
    return { ...(JSON.parse(line) as Answer), conn: id };
  };
  return {
    connect: (port, from, host = NET.vip) => ask({ op: 'connect', host, port, from }),
    send: (conn, text) => ask({ op: 'send', conn, text }),
    end: (conn) => ask({ op: 'end', conn }),
    udp: (port, text, from, host = NET.vip) => ask({ op: 'udp', host, port, text, from }),
  };
}

// ---- furiwake -------------------------------------------------------------------------------

/** A temp dir for a config, removed by stop() or, when a test fails before that, by t.close(). */
async function configDir(t: Lab): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'furiwake-kernel-'));
  t.onClose(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface Balancer {
  out: Lines;
  /** the n-th JSON log event with this msg (counting from the start) */
  event(msg: string, nth?: number): Promise<Record<string, unknown>>;
  /** the first `next` event logged after the first `first` event */
  eventAfter(first: string, next: string): Promise<Record<string, unknown>>;
  /** SIGTERM, then the exit code */
  stop(): Promise<number | null>;
  /** SIGTERM only; `stop()` then waits for the exit */
  terminate(): void;
  /** writes a new config over the file and sends SIGHUP */
  reload(config: string): Promise<void>;
}

/**
 * Runs `furiwake start` on a config (YAML text) in the balancer namespace, or in `ns` (a node of a
 * pair); resolves once it started.
 */
export async function startFuriwake(t: Lab & { balancer?: string }, config: string, ns = t.balancer): Promise<Balancer> {
  if (ns === undefined) throw new Error('startFuriwake: which namespace?');
  const dir = await configDir(t);
  const file = join(dir, 'furiwake.yaml');
  await writeFile(file, config);
  const child = t.spawn(ns, NODE, [BIN, 'start', '-c', file]);
  const out = new Lines(child);
  const err = new Lines(child, 'stderr');
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const events = (msg: string): Record<string, unknown>[] => out.json().filter((e) => e.msg === msg);
  // a second SIGTERM would end furiwake at once: send one
  let signalled = false;
  const balancer: Balancer = {
    out,
    async event(msg, nth = 1) {
      await out.wait(() => events(msg).length >= nth);
      return events(msg)[nth - 1];
    },
    async eventAfter(first, next) {
      const isEvent = (msg: string) => (l: string): boolean => l.startsWith('{') && (JSON.parse(l) as { msg?: string }).msg === msg;
      await out.wait(isEvent(first));
      const index = out.all.findIndex(isEvent(first));
      return JSON.parse(await out.wait(isEvent(next), index + 1)) as Record<string, unknown>;
    },
    async reload(text) {
      await writeFile(file, text);
      child.kill('SIGHUP');
    },
    terminate() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      signalled = true;
    },
    async stop() {
      if (!signalled && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      signalled = true;
      const code = await exited;
      await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
  try {
    await balancer.event('furiwake started');
  } catch (e) {
    await balancer.stop();
    throw new Error(`furiwake did not start: ${(e as Error).message}\nstderr:\n${err.all.join('\n')}`);
  }
  return balancer;
}

// ---- tcpdump --------------------------------------------------------------------------------

export interface Capture {
  /**
   * Once tcpdump has printed `n` packets that `match` accepts. Wait for the last packets a test
   * counts before stop(): tcpdump stopped by a signal drops what it has captured and not yet
   * printed, so a capture stopped as soon as the client is done misses the last packets.
   */
  printed(n: number, match: (packet: string) => boolean): Promise<void>;
  /** stops the capture; the packets as tcpdump -n printed them, one per line */
  stop(): Promise<string[]>;
}

const isPacket = (l: string): boolean => l.includes(' IP ') || l.includes(' IP6 ');

/** tcpdump on one interface of a namespace, started (listening) when this resolves. */
export async function capture(t: Lab, ns: string, iface: string, filter: string): Promise<Capture> {
  // -l: each packet's line is written as soon as it is printed
  const child = t.spawn(ns, 'tcpdump', ['-n', '-l', '--immediate-mode', '-i', iface, ...filter.split(' ')]);
  const out = new Lines(child);
  const err = new Lines(child, 'stderr');
  await err.wait((l) => l.includes('listening on'));
  return {
    async printed(n, match) {
      let count = 0;
      // each line is offered once (those printed before, then each new one), so counting as they come is exact
      await out.wait((l) => isPacket(l) && match(l) && ++count >= n);
    },
    async stop() {
      // 'close', not 'exit': the last lines may still be in the pipe when the process exits.
      const closed = once(child, 'close');
      child.kill('SIGINT');
      await closed;
      return out.all.filter(isPacket);
    },
  };
}

/** A packet with FIN from `from` (an address, or address.port) to `to`: each connection's last word. */
export function fin(from: string, to: string): (packet: string) => boolean {
  return (packet) => {
    const e = endpoints(packet);
    return e !== null && (e[0] === from || e[0].startsWith(`${from}.`)) && (e[1] === to || e[1].startsWith(`${to}.`)) && /Flags \[[^\]]*F/.test(packet);
  };
}

/**
 * `IP 10.88.2.100.80 > 10.88.1.10.40000: ...` -> ['10.88.2.100.80', '10.88.1.10.40000'];
 * `IP6 fd88:2::100.80 > fd88:1::10.40000: ...` -> ['fd88:2::100.80', 'fd88:1::10.40000']
 */
export function endpoints(line: string): [string, string] | null {
  const m = / IP6? (\S+) > (\S+?): /.exec(line);
  return m === null ? null : [m[1], m[2]];
}

// ---- furiwake in-process (peers/balancer.ts) ------------------------------------------------

const AGENT = fileURLToPath(new URL('./peers/balancer.ts', import.meta.url));

export interface BalancerAgent {
  /** the JSON log lines (stderr) */
  log: Lines;
  ask(command: Record<string, unknown>): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** furiwake in a process of its own in the balancer namespace, driven through its runtime. */
export async function startBalancerAgent(t: Lab & { balancer: string }, config: string): Promise<BalancerAgent> {
  const dir = await configDir(t);
  const file = join(dir, 'furiwake.yaml');
  await writeFile(file, config);
  const child = t.spawn(t.balancer, NODE, [AGENT, file]);
  const out = new Lines(child);
  const log = new Lines(child, 'stderr');
  const closed = once(child, 'close');
  let lastId = 0;
  const ask = async (command: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const id = ++lastId;
    child.stdin!.write(JSON.stringify({ id, ...command }) + '\n');
    const answer = JSON.parse(await out.wait((l) => l.startsWith(`{"id":${id},`))) as Record<string, unknown>;
    if (answer.ok !== true) throw new Error(String(answer.error));
    return answer;
  };
  try {
    await out.wait((l) => l.includes('"ready"'));
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(e as Error).message}\nlog:\n${log.all.join('\n')}`);
  }
  return {
    log,
    ask,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) await ask({ op: 'stop' });
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

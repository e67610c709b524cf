// What the HA tests do to a node of a pair (ha-net.ts) and how they time a failover: kill a node
// as a host dies, bring it back as a rebooted host, and a client that retries quickly from the
// moment of the kill until one connection to the VIP is greeted.

import { exec } from '../../src/kernel/exec.ts';
import { PAIR, type Pair } from './ha-net.ts';
import { ip } from './namespaces.ts';
import { Lines } from './peers.ts';

/** The node dies as a host does: every process in its namespace SIGKILLed (furiwake and its keepalived), its cables pulled. */
export async function killNode(pair: Pair, node: number): Promise<void> {
  await pair.unplug(node, true);
  const { stdout } = await exec('ip', ['netns', 'pids', pair.nodes[node]]);
  for (const pid of stdout.split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** The node comes back as a rebooted host: no VIP left on it, cables in. */
export async function reviveNode(pair: Pair, node: number): Promise<void> {
  await ip(['-n', pair.nodes[node], 'addr', 'flush', 'dev', 'eth0', 'to', `${PAIR.vip}/32`]);
  await ip(['-n', pair.nodes[node], '-6', 'addr', 'flush', 'dev', 'eth0', 'to', `${PAIR.vip6}/128`]);
  await pair.unplug(node, false);
}

/** Run in the client's namespace: on a line on stdin, connects to argv[1]:argv[2] again and again, each attempt given up after 50 ms, until one is greeted; prints when (ms since epoch: the test runs on the same clock). */
const PROBER = `
const net = require('node:net');
console.log('ready');
process.stdin.once('data', () => {
  let attempts = 0;
  const attempt = () => {
    attempts++;
    const socket = net.connect({ host: process.argv[1], port: Number(process.argv[2]) });
    const retry = () => { socket.destroy(); setTimeout(attempt, 0); };
    const timer = setTimeout(retry, 50);
    socket.once('error', () => { clearTimeout(timer); setTimeout(attempt, 10); });
    socket.once('data', (d) => {
      clearTimeout(timer);
      socket.destroy();
      console.log(JSON.stringify({ at: Date.now(), attempts, greeting: String(d).trim() }));
      process.exit(0);
    });
  };
  attempt();
});
`;

export interface Probe {
  /** `at`: when (ms since epoch) the first connection was greeted, after `attempts` tries */
  result: Promise<{ at: number; attempts: number; greeting: string }>;
}

/** A prober in the client's namespace, ready; `go()` starts it (send it right after the kill: an attempt made before would reach the old master). */
export async function prober(pair: Pair, port = 80, host: string = PAIR.vip): Promise<{ go(): Probe }> {
  const child = pair.spawn(pair.client, process.execPath, ['-e', PROBER, host, String(port)]);
  const out = new Lines(child);
  await out.wait((l) => l === 'ready');
  return {
    go() {
      child.stdin!.write('go\n');
      return { result: out.wait((l) => l.startsWith('{')).then((l) => JSON.parse(l) as { at: number; attempts: number; greeting: string }) };
    },
  };
}

// The network of an active/standby pair, in namespaces the test makes and removes:
//
//   client 10.88.1.10 ──┐                      ┌── server 1 (10.88.2.11)
//   node 1  10.88.1.2 ──┤ front    (switch)    ├── server 2 (10.88.2.12)
//   node 2  10.88.1.3 ──┘ bridge      back     └── server 3 (10.88.2.13)
//                                     bridge ──── node 1 10.88.2.2, node 2 10.88.2.3
//
// One switch namespace holds two bridges: the front segment (the client, each node's eth0) and
// the back segment (each node's eth1, the servers). The pair's VIPs are not on any node at the
// start: the test's HA config gives them (PAIR.vip in front for the services; PAIR.gateway behind,
// the servers' default route, so a nat service's replies reach whichever node is master — the
// usual LVS-NAT pair). IPv6 in front too (fd88:1::/64). Nodes forward (nat needs it); every
// address exists only inside these namespaces.

import { addr6, ip, Namespaces, veth, type Lab } from './namespaces.ts';
import { NET } from './netns.ts';

export const PAIR = {
  client: '10.88.1.10',
  client6: 'fd88:1::10',
  /** the nodes' own addresses in front (eth0), by node index */
  front: ['10.88.1.2', '10.88.1.3', '10.88.1.4', '10.88.1.5'],
  front6: ['fd88:1::2', 'fd88:1::3', 'fd88:1::4', 'fd88:1::5'],
  /** the nodes' own addresses behind (eth1) */
  back: ['10.88.2.2', '10.88.2.3', '10.88.2.4', '10.88.2.5'],
  /** the services' VIP, held by the master */
  vip: '10.88.1.100',
  vip6: 'fd88:1::100',
  /** the servers' default gateway, a VIP of the pair on the back segment */
  gateway: '10.88.2.254',
  servers: NET.servers,
  prefixLength: 24,
} as const;

export interface Pair extends Lab {
  readonly client: string;
  /** the nodes' namespaces (furiwake or a plain keepalived in each); eth0 in front, eth1 behind */
  readonly nodes: readonly string[];
  readonly servers: readonly string[];
  /** holds the bridges `front` and `back` */
  readonly switch: string;
  /** cuts (or restores) a node's links, as a pulled cable or a dead host would */
  unplug(node: number, unplugged: boolean): Promise<void>;
  /** the addresses a namespace holds on a device, e.g. to see who has the VIP */
  addresses(ns: string, dev?: string): Promise<string[]>;
}

export async function createPair(nodeCount = 2, serverCount = 2): Promise<Pair> {
  if (nodeCount > PAIR.front.length) throw new Error(`at most ${PAIR.front.length} nodes`);
  const lab = new Namespaces();
  const ns = (suffix: string): string => `${lab.prefix}-${suffix}`;
  const nodes = Array.from({ length: nodeCount }, (_, i) => ns(`n${i + 1}`));
  const servers = Array.from({ length: serverCount }, (_, i) => ns(`s${i + 1}`));
  const pair: Pair = {
    prefix: lab.prefix, client: ns('c'), nodes, servers, switch: ns('sw'),
    run: (n, file, args, input) => lab.run(n, file, args, input),
    spawn: (n, file, args) => lab.spawn(n, file, args),
    onClose: (clean) => lab.onClose(clean),
    close: () => lab.close(),
    async unplug(node, unplugged) {
      for (const port of [`f${node + 1}`, `b${node + 1}`]) await ip(['-n', pair.switch, 'link', 'set', port, unplugged ? 'down' : 'up']);
    },
    async addresses(n, dev) {
      const { stdout } = await lab.run(n, 'ip', ['-o', 'addr', 'show', ...(dev === undefined ? [] : ['dev', dev])]);
      return [...stdout.matchAll(/ inet6? ([0-9a-f.:]+)\//g)].map((m) => m[1]);
    },
  };

  try {
    for (const suffix of ['sw', 'c', ...nodes.map((_, i) => `n${i + 1}`), ...servers.map((_, i) => `s${i + 1}`)]) await lab.add(suffix);
    for (const bridge of ['front', 'back']) {
      await ip(['-n', pair.switch, 'link', 'add', bridge, 'type', 'bridge']);
      await ip(['-n', pair.switch, 'link', 'set', bridge, 'up']);
    }
    const plug = async (n: string, dev: string, port: string, bridge: string): Promise<void> => {
      await veth(n, dev, pair.switch, port);
      await ip(['-n', pair.switch, 'link', 'set', port, 'master', bridge, 'up']);
    };

    await plug(pair.client, 'eth0', 'fc', 'front');
    await ip(['-n', pair.client, 'addr', 'add', `${PAIR.client}/${PAIR.prefixLength}`, 'dev', 'eth0']);
    await addr6(pair.client, `${PAIR.client6}/64`, 'eth0');

    for (let i = 0; i < nodes.length; i++) {
      await plug(nodes[i], 'eth0', `f${i + 1}`, 'front');
      await plug(nodes[i], 'eth1', `b${i + 1}`, 'back');
      await ip(['-n', nodes[i], 'addr', 'add', `${PAIR.front[i]}/${PAIR.prefixLength}`, 'dev', 'eth0']);
      await addr6(nodes[i], `${PAIR.front6[i]}/64`, 'eth0');
      await ip(['-n', nodes[i], 'addr', 'add', `${PAIR.back[i]}/${PAIR.prefixLength}`, 'dev', 'eth1']);
      await lab.run(nodes[i], 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    }
    for (let i = 0; i < servers.length; i++) {
      await plug(servers[i], 'eth0', `s${i + 1}`, 'back');
      await ip(['-n', servers[i], 'addr', 'add', `${PAIR.servers[i]}/${PAIR.prefixLength}`, 'dev', 'eth0']);
      await ip(['-n', servers[i], 'route', 'add', 'default', 'via', PAIR.gateway]);
    }
  } catch (err) {
    await lab.close();
    throw err;
  }
  return pair;
}

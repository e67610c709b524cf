// A small network of namespaces for the kernel tests, made and removed by the test:
//
//   client ──veth── gw (router, bridge br0) ──veth── balancer
//   10.88.1.10-12,                            ├─veth── server 1 (10.88.2.11)
//   10.88.3.10      10.88.1.1 / 10.88.3.1     ├─veth── server 2 (10.88.2.12)
//                   10.88.2.254 on br0        └─veth── server 3 (10.88.2.13)
//
// and the same in IPv6 on the same links (NET6: fd88:1::/64 in front, fd88:2::/64 behind).
//
// The balancer (10.88.2.1, VIP 10.88.2.100) and the servers share one layer-2 segment, the
// bridge in gw, as dsr needs. The client is one hop away, behind gw. Servers route to the client
// through the balancer (nat: replies must come back through it) or through gw (dsr and
// full-NAT: replies must not need it). Every address exists only inside these namespaces; the
// host's own network and nftables ruleset are never touched.

import { addr6, ip, Namespaces, veth, type Lab } from './namespaces.ts';

export const NET = {
  client: '10.88.1.10',
  /** more client addresses: .11 shares the /24 of .10; 10.88.3.10 is another /24 */
  clientSameNet: '10.88.1.11',
  clientOtherNet: '10.88.3.10',
  gwFront: '10.88.1.1',
  gwBack: '10.88.2.254',
  balancer: '10.88.2.1',
  vip: '10.88.2.100',
  servers: ['10.88.2.11', '10.88.2.12', '10.88.2.13'],
} as const;

/** The same network in IPv6 (unique local addresses), on the same links. */
export const NET6 = {
  client: 'fd88:1::10',
  gwFront: 'fd88:1::1',
  gwBack: 'fd88:2::fe',
  balancer: 'fd88:2::1',
  vip: 'fd88:2::100',
  servers: ['fd88:2::11', 'fd88:2::12', 'fd88:2::13'],
} as const;

export type Gateway = 'balancer' | 'router';

export interface Topology extends Lab {
  readonly client: string;
  readonly gw: string;
  readonly balancer: string;
  readonly servers: readonly string[];
  /** where the servers send what is not on their segment (the client's replies) */
  route(via: Gateway): Promise<void>;
}

export async function createTopology(serverCount = 3): Promise<Topology> {
  const lab = new Namespaces();
  const prefix = lab.prefix;
  const client = `${prefix}-c`;
  const gw = `${prefix}-gw`;
  const balancer = `${prefix}-b`;
  const servers = Array.from({ length: serverCount }, (_, i) => `${prefix}-s${i + 1}`);

  const topology: Topology = {
    prefix, client, gw, balancer, servers,
    run: (ns, file, args, input) => lab.run(ns, file, args, input),
    spawn: (ns, file, args) => lab.spawn(ns, file, args),
    onClose: (clean) => lab.onClose(clean),
    close: () => lab.close(),
    async route(via) {
      const gateway = via === 'balancer' ? NET.balancer : NET.gwBack;
      const gateway6 = via === 'balancer' ? NET6.balancer : NET6.gwBack;
      for (const s of servers) {
        await ip(['-n', s, 'route', 'replace', 'default', 'via', gateway]);
        await ip(['-n', s, '-6', 'route', 'replace', 'default', 'via', gateway6]);
      }
    },
  };

  try {
    for (const suffix of ['c', 'gw', 'b', ...servers.map((_, i) => `s${i + 1}`)]) await lab.add(suffix);
    // gw: the router, with the servers' segment as a bridge
    await ip(['-n', gw, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', gw, 'addr', 'add', `${NET.gwBack}/24`, 'dev', 'br0']);
    await addr6(gw, `${NET6.gwBack}/64`, 'br0');
    await ip(['-n', gw, 'link', 'set', 'br0', 'up']);
    await topology.run(gw, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);

    await veth(client, 'eth0', gw, 'front');
    for (const address of [NET.client, NET.clientSameNet]) await ip(['-n', client, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await ip(['-n', client, 'addr', 'add', `${NET.clientOtherNet}/24`, 'dev', 'eth0']);
    await addr6(client, `${NET6.client}/64`, 'eth0');
    await ip(['-n', client, 'route', 'add', 'default', 'via', NET.gwFront, 'src', NET.client]);
    await ip(['-n', client, '-6', 'route', 'add', 'default', 'via', NET6.gwFront]);
    await ip(['-n', gw, 'addr', 'add', `${NET.gwFront}/24`, 'dev', 'front']);
    await ip(['-n', gw, 'addr', 'add', '10.88.3.1/24', 'dev', 'front']);
    await addr6(gw, `${NET6.gwFront}/64`, 'front');
    await ip(['-n', gw, 'link', 'set', 'front', 'up']);

    const ports = [balancer, ...servers];
    for (let i = 0; i < ports.length; i++) {
      await veth(ports[i], 'eth0', gw, `p${i}`);
      await ip(['-n', gw, 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
    }
    await ip(['-n', balancer, 'addr', 'add', `${NET.balancer}/24`, 'dev', 'eth0']);
    await ip(['-n', balancer, 'addr', 'add', `${NET.vip}/32`, 'dev', 'eth0']);
    await addr6(balancer, `${NET6.balancer}/64`, 'eth0');
    // preferred_lft 0: the VIP takes traffic but is never chosen as a source address (a /128
    // would otherwise win the longest-match rule over the balancer's own /64, and full-NAT would
    // send members packets from the VIP, which the dsr-ready servers hold themselves)
    await ip(['-n', balancer, '-6', 'addr', 'add', `${NET6.vip}/128`, 'dev', 'eth0', 'nodad', 'preferred_lft', '0']);
    await ip(['-n', balancer, 'route', 'add', 'default', 'via', NET.gwBack]);
    await ip(['-n', balancer, '-6', 'route', 'add', 'default', 'via', NET6.gwBack]);
    await topology.run(balancer, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    for (let i = 0; i < servers.length; i++) {
      await ip(['-n', servers[i], 'addr', 'add', `${NET.servers[i]}/24`, 'dev', 'eth0']);
      await addr6(servers[i], `${NET6.servers[i]}/64`, 'eth0');
      // dsr: the VIP is the server's own address too, on lo, and it never answers ARP for it
      // (nor neighbour solicitations: Linux answers those only for the receiving link's addresses)
      await ip(['-n', servers[i], 'addr', 'add', `${NET.vip}/32`, 'dev', 'lo']);
      await addr6(servers[i], `${NET6.vip}/128`, 'lo');
      await topology.run(servers[i], 'sysctl', ['-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
    }
    await topology.route('balancer');
  } catch (err) {
    await topology.close();
    throw err;
  }
  return topology;
}

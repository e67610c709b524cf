// mode: nat, end to end: `furiwake start` runs in the balancer namespace and puts its rules in
// that namespace's kernel; a client one hop away connects to the VIP; real servers report the
// address they saw. Checked on the wire: the distribution, the client's own address at the
// servers, only the VIP as the client's peer (tcpdump in the client namespace), weights, UDP,
// full-NAT, health, and that stopping leaves no table behind.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exec } from '../../src/kernel/exec.ts';
import { createTopology, NET, NET6, type Topology } from './netns.ts';
import { capture, endpoints, fin, greetings, startClient, startFuriwake, startServer, type Client, type PeerServer } from './peers.ts';

const MEMBERS = NET.servers.map((ip) => `      - { address: ${ip}:80 }`).join('\n');
const MEMBERS6 = NET6.servers.map((ip) => `      - { address: "[${ip}]:80" }`).join('\n');

function config(service: string, pool = `  web:\n    members:\n${MEMBERS}`): string {
  return `global: { log-level: debug, shutdown-grace: 1s }\nservices:\n  ${service}\npools:\n${pool}\n`;
}

/** `10.88.1.10:40000` -> `10.88.1.10` */
const host = (endpoint: string): string => endpoint.slice(0, endpoint.lastIndexOf(':'));

describe('nat mode', () => {
  let t: Topology;
  let servers: PeerServer[];
  let client: Client;
  let hostRuleset: string;

  before(async () => {
    hostRuleset = (await exec('nft', ['list', 'ruleset'])).stdout;
    t = await createTopology(3);
    servers = await Promise.all([0, 1, 2].map((i) => startServer(t, i)));
    client = await startClient(t);
  });
  after(async () => {
    if (t === undefined) return; // the topology cleaned up after itself
    await t.close();
    // The namespaces are gone, with their links; the host's own ruleset was never touched.
    const namespaces = (await exec('ip', ['netns', 'list'])).stdout;
    assert.ok(!namespaces.includes(t.prefix), `namespaces left:\n${namespaces}`);
    const links = (await exec('ip', ['-o', 'link'])).stdout;
    assert.ok(!/\bv[0-9a-f]{8}\b/.test(links), `links left:\n${links}`);
    assert.equal((await exec('nft', ['list', 'ruleset'])).stdout, hostRuleset);
  });

  /** Connects `n` times in turn to vip:port; the greeting (server name) of each. */
  const connections = (port: number, n: number, from?: string, vip?: string): Promise<string[]> => greetings(client, port, n, from, vip);

  /**
   * Six connections through a round-robin nat service: two to each server, each server sees the
   * client's own address, every packet that reached the client came from the VIP (the servers'
   * addresses never did), and stopping leaves no table.
   */
  async function roundRobin(yaml: string, addresses: { vip: string; client: string }, filter: string): Promise<void> {
    const fw = await startFuriwake(t, yaml);
    const seen = servers.map((s) => s.tcpPeers().length);
    const dump = await capture(t, t.client, 'eth0', filter);
    const names = await connections(80, 6, undefined, addresses.vip);
    // the six connections' FINs to the client: everything before them is printed too
    await dump.printed(6, fin(`${addresses.vip}.80`, addresses.client));
    const packets = await dump.stop();

    assert.deepEqual(names.toSorted(), ['s1', 's1', 's2', 's2', 's3', 's3']);
    for (const [i, s] of servers.entries()) {
      assert.deepEqual(s.tcpPeers().slice(seen[i]).map(host), [addresses.client, addresses.client]);
    }
    const received = packets.map(endpoints).filter((e): e is [string, string] => e !== null && e[1].startsWith(`${addresses.client}.`));
    assert.ok(received.length >= 6 * 3, `too few packets captured:\n${packets.join('\n')}`);
    for (const [from] of received) assert.equal(from, `${addresses.vip}.80`);

    assert.equal(await fw.stop(), 0);
    assert.equal((await t.run(t.balancer, 'nft', ['list', 'tables'])).stdout, '');
  }

  test('round-robin: each server in turn, each sees the client, the client sees only the VIP', async () => {
    await roundRobin(config('www: { listen: 10.88.2.100:80, mode: nat, pool: web }'), NET, 'tcp port 80');
  });

  test('IPv6: the same, to the servers\' IPv6 addresses', async () => {
    const yaml = config(`www6: { listen: "[${NET6.vip}]:80", mode: nat, pool: web6 }`, `  web6:\n    members:\n${MEMBERS6}`);
    await roundRobin(yaml, NET6, 'ip6 and tcp port 80');
  });

  test('weighted-round-robin: connections in proportion to weight; weight 0 gets none', async () => {
    const fw = await startFuriwake(t, config(
      'www: { listen: 10.88.2.100:80, mode: nat, pool: web }',
      `  web:\n    algorithm: weighted-round-robin\n    members:\n      - { address: ${NET.servers[0]}:80, weight: 3 }\n` +
      `      - { address: ${NET.servers[1]}:80, weight: 1 }\n      - { address: ${NET.servers[2]}:80, weight: 0 }`,
    ));
    const names = await connections(80, 8);
    assert.deepEqual(names.toSorted(), ['s1', 's1', 's1', 's1', 's1', 's1', 's2', 's2']);
    assert.equal(await fw.stop(), 0);
  });

  test('source-hash: one client address always reaches one server', async () => {
    const fw = await startFuriwake(t, config(
      'www: { listen: 10.88.2.100:80, mode: nat, pool: web }',
      `  web:\n    algorithm: source-hash\n    members:\n${MEMBERS}`,
    ));
    for (const from of [NET.client, NET.clientSameNet, NET.clientOtherNet]) {
      const names = await connections(80, 4, from);
      assert.equal(new Set(names).size, 1, `${from} reached ${names.join(', ')}`);
    }
    assert.equal(await fw.stop(), 0);
  });

  test('persistence source-ip /24: a client network stays on its server, another network is balanced', async () => {
    const fw = await startFuriwake(t, config(
      'www: { listen: 10.88.2.100:80, mode: nat, pool: web, persistence: { method: source-ip, mask: 24, timeout: 5m } }',
    ));
    const first = await connections(80, 1, NET.client);
    // .10 and .11 share 10.88.1.0/24: all of their connections follow the first one
    const same = [...await connections(80, 3, NET.clientSameNet), ...await connections(80, 3, NET.client)];
    assert.deepEqual(same, new Array(6).fill(first[0]));
    // 10.88.3.0/24 is another client: the round-robin goes on for it
    const other = await connections(80, 3, NET.clientOtherNet);
    assert.equal(new Set(other).size, 1);
    assert.notEqual(other[0], first[0]);
    assert.equal(await fw.stop(), 0);
  });

  test('udp: datagrams go round-robin, servers see the client, replies come from the VIP', async () => {
    const fw = await startFuriwake(t, config('dns: { listen: 10.88.2.100:53, mode: nat, protocol: udp, pool: web }'));
    const seen = servers.map((s) => s.udpPeers().length);
    const replies: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await client.udp(53, `q${i}`);
      assert.equal(r.ok, true, r.error);
      assert.equal(r.from, `${NET.vip}:53`);
      replies.push(r.text!);
    }
    assert.deepEqual(replies.map((r) => r.split(':')[0]).toSorted(), ['s1', 's2', 's3']);
    await Promise.all(servers.map((s, i) => s.udpReported(seen[i] + 1)));
    for (const [i, s] of servers.entries()) assert.deepEqual(s.udpPeers().slice(seen[i]).map(host), [NET.client]);
    assert.equal(await fw.stop(), 0);
  });

  /** Full-NAT: servers that route elsewhere see the balancer's own address (on `addresses`' family) and answer it. */
  async function fullNat(yaml: string, addresses: { vip: string; balancer: string }): Promise<void> {
    await t.route('router');
    try {
      const fw = await startFuriwake(t, yaml);
      const seen = servers.map((s) => s.tcpPeers().length);
      const names = await connections(80, 3, undefined, addresses.vip);
      assert.deepEqual(names.toSorted(), ['s1', 's2', 's3']);
      for (const [i, s] of servers.entries()) assert.deepEqual(s.tcpPeers().slice(seen[i]).map(host), [addresses.balancer]);
      assert.equal(await fw.stop(), 0);
    } finally {
      await t.route('balancer');
    }
  }

  test('full-NAT: servers that do not route through the balancer see its address, and answer it', async () => {
    await fullNat(config('www: { listen: 10.88.2.100:80, mode: nat, pool: web, source-nat: true }'), NET);
  });

  test('full-NAT over IPv6', async () => {
    await fullNat(config(`www6: { listen: "[${NET6.vip}]:80", mode: nat, pool: web6, source-nat: true }`, `  web6:\n    members:\n${MEMBERS6}`), NET6);
  });

  test('full-NAT over IPv6 warns when the VIP could be chosen as the source (not preferred_lft 0)', async () => {
    const yaml = config(`www6: { listen: "[${NET6.vip}]:80", mode: nat, pool: web6, source-nat: true }`, `  web6:\n    members:\n${MEMBERS6}`);
    const warning = 'kernel: the VIP is a preferred address here, so full-NAT may send members packets from it: add it with preferred_lft 0';
    // as the topology has it (preferred_lft 0): nothing to say before the service listens
    const quiet = await startFuriwake(t, yaml);
    await quiet.event('service listening');
    assert.ok(!quiet.out.all.some((l) => l.includes(warning)));
    assert.equal(await quiet.stop(), 0);
    await t.run(t.balancer, 'ip', ['-6', 'addr', 'change', `${NET6.vip}/128`, 'dev', 'eth0', 'preferred_lft', 'forever']);
    try {
      const warned = await startFuriwake(t, yaml);
      assert.deepEqual(await warned.event(warning).then((e) => [e.service, e.vip, e.interface]), ['www6', NET6.vip, 'eth0']);
      assert.equal(await warned.stop(), 0);
    } finally {
      await t.run(t.balancer, 'ip', ['-6', 'addr', 'change', `${NET6.vip}/128`, 'dev', 'eth0', 'preferred_lft', '0']);
    }
  });

  test('a reload re-renders: a member added, one removed, the algorithm changed; live connections go on', async () => {
    const one = (members: number[], algorithm = 'round-robin'): string => config('www: { listen: 10.88.2.100:80, mode: nat, pool: web }',
      `  web:\n    algorithm: ${algorithm}\n    members:\n${members.map((i) => `      - { address: ${NET.servers[i]}:80 }`).join('\n')}`);
    const fw = await startFuriwake(t, one([0]));
    const open = await client.connect(80);
    assert.equal(open.line, 's1');
    await fw.reload(one([1, 2], 'weighted-round-robin'));
    await fw.eventAfter('SIGHUP: reloading', 'kernel: ruleset applied');
    const names = await connections(80, 4);
    assert.deepEqual(names.toSorted(), ['s2', 's2', 's3', 's3']);
    // the removed member's connection is conntrack's: it goes on
    const answer = await client.send(open.conn, 'after the reload');
    assert.equal(answer.line, 's1:after the reload', answer.error);
    assert.equal((await client.end(open.conn)).ending, 'end');
    assert.equal(await fw.stop(), 0);
  });

  test('stopping: established connections go on, new ones are refused, then the table goes', async () => {
    const fw = await startFuriwake(t, config('www: { listen: 10.88.2.100:80, mode: nat, pool: web }')
      .replace('shutdown-grace: 1s', 'shutdown-grace: 30s'));
    const open = await client.connect(80);
    assert.equal(open.ok, true, open.error);
    fw.terminate();
    await fw.eventAfter('stopping: no new connections', 'kernel: ruleset applied');
    // its rules stay for the connection it counts
    const waiting = await fw.eventAfter('stopping: no new connections', 'kernel: waiting for live connections');
    assert.deepEqual([waiting.service, waiting.connections], ['www', 1]);
    const refused = await client.connect(80);
    assert.equal(refused.ok, false);
    assert.match(refused.error!, /ECONNREFUSED/);
    const answer = await client.send(open.conn, 'still there?');
    assert.equal(answer.line, `${open.line}:still there?`, answer.error);
    // the last connection ends: furiwake does not wait for the rest of the grace period
    assert.equal((await client.end(open.conn)).ending, 'end');
    assert.equal(await fw.stop(), 0);
    assert.equal((await t.run(t.balancer, 'nft', ['list', 'tables'])).stdout, '');
  });

  test('a member whose health check fails gets no new connection; its established one goes on', async () => {
    // Each server's health port is a process of its own, so the check can fail while port 80 serves.
    const health = await Promise.all([0, 1, 2].map((i) => startServer(t, i, 8081)));
    const fw = await startFuriwake(t, config(
      'www: { listen: 10.88.2.100:80, mode: nat, pool: web }',
      `  web:\n    members:\n${MEMBERS}\n    health:\n      initial-state: up\n` +
      '      monitors: [ { type: tcp, port: 8081, interval: 200ms, timeout: 200ms, rise: 1, fall: 1 } ]',
    ));
    const open = await client.connect(80);
    assert.equal(open.ok, true, open.error);
    const victim = Number(open.line!.slice(1)) - 1;
    await health[victim].stop();
    // Once the ruleset that follows the health change is in, no new connection reaches the member.
    await fw.eventAfter('member health changed', 'kernel: ruleset applied');
    const names = await connections(80, 6);
    assert.ok(!names.includes(open.line!), `${open.line} still got ${names.join(', ')}`);
    assert.equal(new Set(names).size, 2);
    // conntrack keeps the established connection on its member
    const answer = await client.send(open.conn, 'still there?');
    assert.equal(answer.line, `${open.line}:still there?`, answer.error);
    assert.equal((await client.end(open.conn)).ending, 'end');
    assert.equal(await fw.stop(), 0);
    await Promise.all(health.map((h) => h.stop()));
  });
});

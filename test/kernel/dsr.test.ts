// mode: dsr (MAC address translation): the balancer forwards the client's packets to a server on
// its segment with only the MAC addresses rewritten; the server, which has the VIP on its
// loopback and never answers ARP for it, replies to the client directly. Checked on the wire:
// the distribution, the client's own address at the servers, the VIP as the client's only peer,
// and no reply at all on the balancer's interface.

import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createTopology, NET, NET6, type Topology } from './netns.ts';
import { capture, endpoints, fin, greetings, startBalancerAgent, startClient, startFuriwake, startServer, type Client, type PeerServer } from './peers.ts';

const MEMBERS = NET.servers.map((ip) => `      - { address: ${ip}:80 }`).join('\n');
const BIN = fileURLToPath(new URL('../../bin/furiwake.js', import.meta.url));
const host = (endpoint: string): string => endpoint.slice(0, endpoint.lastIndexOf(':'));

function config(service: string): string {
  return `global: { log-level: debug, shutdown-grace: 1s }\nservices:\n  ${service}\npools:\n  web:\n    members:\n${MEMBERS}\n`;
}

describe('dsr mode', () => {
  let t: Topology;
  let servers: PeerServer[];
  let client: Client;

  before(async () => {
    t = await createTopology(3);
    // replies go to the router, never back through the balancer
    await t.route('router');
    servers = await Promise.all([0, 1, 2].map((i) => startServer(t, i)));
    client = await startClient(t);
  });
  after(() => t?.close());

  /** `n` connections to vip:80 in turn, each greeted, answered once and closed cleanly; the greetings. */
  async function roundTrips(n: number, vip: string): Promise<string[]> {
    const names: string[] = [];
    for (let i = 0; i < n; i++) {
      const c = await client.connect(80, undefined, vip);
      assert.equal(c.ok, true, c.error);
      assert.equal(c.remote, `${vip}:80`);
      names.push(c.line!);
      const answer = await client.send(c.conn, `line ${i}`);
      assert.equal(answer.line, `${c.line}:line ${i}`);
      assert.equal((await client.end(c.conn)).ending, 'end');
    }
    return names;
  }

  test('round-robin; servers see the client and answer it directly; the balancer sees no reply', async () => {
    const fw = await startFuriwake(t, config('www: { listen: 10.88.2.100:80, mode: dsr, pool: web, interface: eth0 }'));
    const seen = servers.map((s) => s.tcpPeers().length);
    const atClient = await capture(t, t.client, 'eth0', 'tcp port 80');
    const atBalancer = await capture(t, t.balancer, 'eth0', 'tcp port 80');
    const names = await roundTrips(6, NET.vip);
    // the connections' FINs (the servers' at the client, the client's at the balancer): all before them is printed too
    await atClient.printed(6, fin(`${NET.vip}.80`, NET.client));
    await atBalancer.printed(6, fin(NET.client, `${NET.vip}.80`));
    const clientPackets = await atClient.stop();
    const balancerPackets = await atBalancer.stop();

    assert.deepEqual(names.toSorted(), ['s1', 's1', 's2', 's2', 's3', 's3']);
    for (const [i, s] of servers.entries()) {
      const peers = s.tcpPeers().slice(seen[i]);
      assert.deepEqual(peers.map(host), [NET.client, NET.client]);
    }
    const toClient = clientPackets.map(endpoints).filter((e): e is [string, string] => e !== null && e[1].startsWith(`${NET.client}.`));
    assert.ok(toClient.length >= 6 * 4, `too few packets captured:\n${clientPackets.join('\n')}`);
    for (const [from] of toClient) assert.equal(from, `${NET.vip}.80`);
    // The balancer saw the client's packets (in, and out again to a server) and nothing else.
    const flows = balancerPackets.map(endpoints).filter((e): e is [string, string] => e !== null);
    assert.ok(flows.length >= 6 * 4, `too few packets at the balancer:\n${balancerPackets.join('\n')}`);
    for (const [from, to] of flows) {
      assert.ok(from.startsWith(`${NET.client}.`) && to === `${NET.vip}.80`, `not a client packet: ${from} > ${to}`);
    }
    assert.equal(await fw.stop(), 0);
    // its six flows, not idle yet, held the rules for the grace period
    const waiting = fw.out.json().find((e) => e.msg === 'kernel: waiting for live connections');
    assert.deepEqual([waiting?.service, waiting?.connections], ['www', 6]);
    assert.equal((await t.run(t.balancer, 'nft', ['list', 'tables'])).stdout, '');
  });

  /** `furiwake ctl ...` in the balancer namespace, against the admin listener of adminConfig(). */
  async function ctl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    const r = await t.run(t.balancer, process.execPath, [BIN, 'ctl', '--admin', 'http://127.0.0.1:9090', ...args]).catch((e: { stdout?: string; stderr?: string }) => e);
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  }
  const adminConfig = (service: string): string => `admin: { listen: 127.0.0.1:9090 }\n${config(service)}`;
  type Row = { id: number; client: { address: string; port: number }; member: { id: string } | null; kernel: { mode: string } | null };
  const rows = async (service: string): Promise<Row[]> => (JSON.parse((await ctl('connections', '--service', service, '--json')).stdout) as { items: Row[] }).items;
  const portOf = (local: string): number => Number(local.slice(local.lastIndexOf(':') + 1));

  test('a dsr flow ended by id: its member gets no more of it, the client gets a reset from the balancer', async () => {
    const fw = await startFuriwake(t, adminConfig('www: { listen: 10.88.2.100:80, mode: dsr, pool: web, interface: eth0 }'));
    try {
      const c = await client.connect(80);
      assert.equal(c.ok, true, c.error);
      const port = portOf(c.local!);
      const row = (await rows('www')).find((r) => r.client.port === port);
      // an id of its own, above conntrack's 32-bit ones, the same from listing to listing
      assert.ok(row !== undefined && row.id > 2 ** 32 && row.kernel?.mode === 'dsr', JSON.stringify(row));
      assert.equal((await rows('www')).find((r) => r.client.port === port)?.id, row.id);
      const server = t.servers[Number(c.line!.slice(1)) - 1];
      const atMember = await capture(t, server, 'eth0', 'tcp port 80');
      const atBalancer = await capture(t, t.balancer, 'eth0', 'tcp port 80');
      assert.deepEqual(JSON.parse((await ctl('shutdown', String(row.id), '--json')).stdout), { ended: 1, kernel: 0 });
      assert.equal((await rows('www')).find((r) => r.client.port === port), undefined);
      assert.match((await ctl('shutdown', String(row.id))).stderr, new RegExp(`404: no connection ${row.id}`));
      const after = await client.send(c.conn, 'after');
      assert.equal(after.ok, false, JSON.stringify(after));
      assert.match(after.error!, /ECONNRESET|closed by the peer/);
      // the reset is the balancer's own, from the VIP
      const reset = (p: string): boolean => endpoints(p)?.join(' ') === `${NET.vip}.80 ${NET.client}.${port}` && /Flags \[R/.test(p);
      await atBalancer.printed(1, reset);
      await atBalancer.stop();
      // a new connection that reaches the same member marks the end of what it saw of the old one
      let marker: number | null = null;
      for (let i = 0; i < 3 && marker === null; i++) {
        const n = await client.connect(80);
        assert.equal(n.ok, true, n.error);
        if (n.line === c.line) marker = portOf(n.local!);
        await client.end(n.conn);
      }
      assert.notEqual(marker, null);
      await atMember.printed(1, fin(`${NET.client}.${marker}`, `${NET.vip}.80`));
      const seen = (await atMember.stop()).filter((p) => endpoints(p)?.some((e) => e === `${NET.client}.${port}`));
      assert.deepEqual(seen, []);
    } finally {
      assert.equal(await fw.stop(), 0);
    }
  });

  test("a dsr service's flows ended by filter, and a member's udp flows: tcp flows get resets, the services go on", async () => {
    const udp = await Promise.all([0, 1, 2].map((i) => startServer(t, i, 5353, NET.vip)));
    const fw = await startFuriwake(t, adminConfig('www: { listen: 10.88.2.100:80, mode: dsr, pool: web, interface: eth0 }\n' +
      '  dns: { listen: 10.88.2.100:5353, mode: dsr, protocol: udp, pool: dns, interface: eth0 }') +
      `  dns:\n    members:\n${NET.servers.map((ip) => `      - { address: ${ip}:5353 }`).join('\n')}\n`);
    try {
      const conns = [await client.connect(80), await client.connect(80)];
      for (const c of conns) assert.equal(c.ok, true, c.error);
      const byService = JSON.parse((await ctl('shutdown', '--service', 'www', '--json')).stdout) as { ended: number; kernel: number };
      assert.ok(byService.ended >= 2 && byService.kernel === 0, JSON.stringify(byService));
      assert.deepEqual((await rows('www')).filter((r) => conns.some((c) => portOf(c.local!) === r.client.port)), []);
      for (const c of conns) {
        const after = await client.send(c.conn, 'after');
        assert.equal(after.ok, false, JSON.stringify(after));
        assert.match(after.error!, /ECONNRESET|closed by the peer/);
      }
      // new connections are balanced as before
      assert.equal((await greetings(client, 80, 3)).length, 3);

      const first = await client.udp(5353, 'q1');
      assert.equal(first.ok, true, first.error);
      const flow = (await rows('dns')).find((r) => r.client.address === NET.client);
      assert.ok(flow?.member !== null && flow?.member !== undefined, JSON.stringify(flow));
      const byMember = JSON.parse((await ctl('shutdown', '--member', `dns/${flow.member.id}`, '--json')).stdout) as { ended: number };
      assert.ok(byMember.ended >= 1, JSON.stringify(byMember));
      assert.deepEqual((await rows('dns')).filter((r) => r.member?.id === flow.member!.id), []);
      // the service goes on: a new datagram is balanced and answered
      const next = await client.udp(5353, 'q2');
      assert.equal(next.ok, true, next.error);
    } finally {
      assert.equal(await fw.stop(), 0);
      await Promise.all(udp.map((s) => s.stop()));
    }
  });

  test('IPv6: round-robin to the servers\' IPv6 addresses; they see the client and answer it directly', async () => {
    const members6 = NET6.servers.map((ip) => `      - { address: "[${ip}]:80" }`).join('\n');
    const fw = await startFuriwake(t, `global: { log-level: debug, shutdown-grace: 1s }
services:
  www6: { listen: "[${NET6.vip}]:80", mode: dsr, pool: web6, interface: eth0 }
pools:
  web6:
    members:
${members6}
`);
    const seen = servers.map((s) => s.tcpPeers().length);
    const atBalancer = await capture(t, t.balancer, 'eth0', 'ip6 and tcp port 80');
    const names = await roundTrips(6, NET6.vip);
    await atBalancer.printed(6, fin(NET6.client, `${NET6.vip}.80`));
    const balancerPackets = await atBalancer.stop();
    assert.deepEqual(names.toSorted(), ['s1', 's1', 's2', 's2', 's3', 's3']);
    for (const [i, s] of servers.entries()) {
      assert.deepEqual(s.tcpPeers().slice(seen[i]).map(host), [NET6.client, NET6.client]);
    }
    // the balancer saw the client's packets only: the servers' replies went straight to the router
    const flows = balancerPackets.map(endpoints).filter((e): e is [string, string] => e !== null);
    assert.ok(flows.length >= 6 * 4, `too few packets at the balancer:\n${balancerPackets.join('\n')}`);
    for (const [from, to] of flows) {
      assert.ok(from.startsWith(`${NET6.client}.`) && to === `${NET6.vip}.80`, `not a client packet: ${from} > ${to}`);
    }
    assert.equal(await fw.stop(), 0);
  });

  test('udp: each datagram flow to one server, the reply straight from it with the VIP as source', async () => {
    // UDP servers behind dsr bind the VIP: a socket on 0.0.0.0 would answer from 10.88.2.1x
    const udp = await Promise.all([0, 1, 2].map((i) => startServer(t, i, 5353, NET.vip)));
    const fw = await startFuriwake(t, config('dns: { listen: 10.88.2.100:5353, mode: dsr, protocol: udp, pool: web, interface: eth0 }')
      .replaceAll(':80 }', ':5353 }'));
    const replies: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await client.udp(5353, `q${i}`);
      assert.equal(r.ok, true, r.error);
      assert.equal(r.from, `${NET.vip}:5353`);
      replies.push(r.text!.split(':')[0]);
    }
    assert.deepEqual(replies.toSorted(), ['s1', 's2', 's3']);
    await Promise.all(udp.map((s) => s.udpReported(1)));
    for (const s of udp) assert.deepEqual(s.udpPeers().map(host), [NET.client]);
    assert.equal(await fw.stop(), 0);
    await Promise.all(udp.map((s) => s.stop()));
  });

  test('the flows are the connection table; a disabled member keeps its flows unless flush-on-down', async () => {
    const extra = await Promise.all([0, 1, 2].map((i) => startServer(t, i, 81)));
    const fw = await startBalancerAgent(t, config(
      'www: { listen: 10.88.2.100:80, mode: dsr, pool: web, interface: eth0 }\n' +
      '  flushing: { listen: 10.88.2.100:81, mode: dsr, pool: web81, interface: eth0, flush-on-down: true }',
    ) + `  web81:\n    members:\n${NET.servers.map((ip) => `      - { address: ${ip}:81 }`).join('\n')}\n`);
    const memberOf = (greeting: string, port: number): string => `${NET.servers[Number(greeting.slice(1)) - 1]}:${port}`;
    try {
      const kept = await client.connect(80);
      const flushed = await client.connect(81);
      assert.equal(kept.ok && flushed.ok, true, kept.error ?? flushed.error);
      // only this test's clients: a late packet of an earlier test's connection (its FIN, resent under
      // load) is a flow the kernel lists too
      type Row = { client: { port: number }; member: string; state: string; mode: string };
      const port = Number(kept.local!.split(':')[1]);
      const ours = async (service: string): Promise<Row[]> =>
        ((await fw.ask({ op: 'connections', service })).rows as Row[]).filter((r) => r.client.port === port || r.client.port === Number(flushed.local!.split(':')[1]));
      const rows = await ours('www');
      assert.deepEqual(rows.map((r) => [r.client.port, r.member, r.state, r.mode]), [[port, memberOf(kept.line!, 80), 'forwarding', 'dsr']]);

      await fw.ask({ op: 'admin', pool: 'web', member: memberOf(kept.line!, 80), state: 'disabled' });
      await fw.ask({ op: 'admin', pool: 'web81', member: memberOf(flushed.line!, 81), state: 'disabled' });
      // without flush-on-down the flow stays, and so does the connection
      const answer = await client.send(kept.conn, 'still there?');
      assert.equal(answer.line, `${kept.line}:still there?`, answer.error);
      assert.equal((await ours('www')).length, 1);
      // with it, the flow is gone: the next packet goes to another server, which resets it
      assert.deepEqual(await ours('flushing'), []);
      const reset = await client.send(flushed.conn, 'hello');
      assert.equal(reset.ok, false);
      assert.match(reset.error!, /ECONNRESET|closed by the peer/);
      assert.equal((await client.end(kept.conn)).ending, 'end');
    } finally {
      await fw.stop();
      await Promise.all(extra.map((s) => s.stop()));
    }
  });

  test('max-connections: a member\'s flows are its connections; at its limit it gets no new one', async () => {
    const fw = await startBalancerAgent(t, config('www: { listen: 10.88.2.100:80, mode: dsr, pool: web, interface: eth0 }')
      .replaceAll(':80 }', ':80, max-connections: 1 }'));
    try {
      const held = await client.connect(80);
      assert.equal(held.ok, true, held.error);
      await fw.ask({ op: 'limits' });
      const names = await greetings(client, 80, 4);
      assert.ok(!names.includes(held.line!), `${held.line} is at its limit, yet got ${names.join(', ')}`);
      assert.equal(new Set(names).size, 2);
      assert.equal((await client.end(held.conn)).ending, 'end');
    } finally {
      await fw.stop();
    }
  });
});

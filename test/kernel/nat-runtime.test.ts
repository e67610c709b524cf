// mode: nat through the runtime: furiwake runs in-process in the balancer namespace
// (peers/balancer.ts) so the test can change a member's admin state and read what the runtime
// shows of the kernel: the connection table from conntrack (client -> VIP translated to
// client -> member) and the persistence entries from nftables.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTopology, NET, type Topology } from './netns.ts';
import { greetings, startBalancerAgent, startClient, startServer, type BalancerAgent, type Client } from './peers.ts';

const MEMBERS = NET.servers.map((ip) => `      - { address: ${ip}:80 }`).join('\n');
const CONFIG = `global: { log-level: debug }
services:
  www: { listen: 10.88.2.100:80, mode: nat, pool: web }
  flushing: { listen: 10.88.2.100:81, mode: nat, pool: web, flush-on-down: true }
  sticky: { listen: 10.88.2.100:82, mode: nat, pool: web, persistence: { method: source-ip, mask: 24, timeout: 10m } }
  limited: { listen: 10.88.2.100:83, mode: nat, pool: one-each }
  limited-too: { listen: 10.88.2.100:84, mode: nat, pool: one-each }
pools:
  web:
    members:
${MEMBERS}
  one-each:
    members:
${NET.servers.map((ip) => `      - { address: ${ip}:80, max-connections: 1 }`).join('\n')}
`;

interface Row { client: { address: string; port: number }; vip: { address: string; port: number }; member: string | null; target: { address: string; port: number }; local: unknown; state: string; mode: string; protocol: string }

describe('nat through the runtime', () => {
  let t: Topology;
  let client: Client;
  let fw: BalancerAgent;

  before(async () => {
    t = await createTopology(3);
    await Promise.all([0, 1, 2].map((i) => startServer(t, i)));
    client = await startClient(t);
    fw = await startBalancerAgent(t, CONFIG);
  });
  after(async () => {
    try {
      await fw?.stop();
    } finally {
      await t?.close();
    }
  });

  const memberOf = (greeting: string): string => `${NET.servers[Number(greeting.slice(1)) - 1]}:80`;
  const admin = (member: string, state: string): Promise<unknown> => fw.ask({ op: 'admin', pool: 'web', member, state });

  test('the connection table: client -> VIP, translated to client -> member, from conntrack', async () => {
    const c = await client.connect(80);
    assert.equal(c.ok, true, c.error);
    const { rows } = await fw.ask({ op: 'connections', service: 'www' }) as { rows: Row[] };
    const port = Number(c.local!.split(':')[1]);
    const row = rows.find((r) => r.client.port === port);
    assert.ok(row !== undefined, JSON.stringify(rows));
    assert.deepEqual(
      { client: row.client, vip: row.vip, member: row.member, target: row.target, local: row.local, state: row.state, mode: row.mode, protocol: row.protocol },
      {
        client: { address: NET.client, port },
        vip: { address: NET.vip, port: 80 },
        member: memberOf(c.line!),
        target: { address: memberOf(c.line!).split(':')[0], port: 80 },
        local: null,
        state: 'ESTABLISHED',
        mode: 'nat',
        protocol: 'tcp',
      },
    );
    assert.equal((await client.end(c.conn)).ending, 'end');
  });

  test('a disabled member gets no new connection; its established one goes on', async () => {
    const open = await client.connect(80);
    assert.equal(open.ok, true, open.error);
    await admin(memberOf(open.line!), 'disabled');
    try {
      const names = await greetings(client, 80, 4);
      assert.ok(!names.includes(open.line!), `${open.line} got ${names.join(', ')}`);
      const answer = await client.send(open.conn, 'hello');
      assert.equal(answer.line, `${open.line}:hello`, answer.error);
      assert.equal((await client.end(open.conn)).ending, 'end');
    } finally {
      await admin(memberOf(open.line!), 'enabled');
    }
  });

  test('max-connections: a member at its limit gets no new connection until it is below it', async () => {
    const held = await client.connect(83);
    assert.equal(held.ok, true, held.error);
    await fw.ask({ op: 'limits' });
    const names = await greetings(client, 83, 4);
    assert.ok(!names.includes(held.line!), `${held.line} is at its limit, yet got ${names.join(', ')}`);
    assert.equal((await client.end(held.conn)).ending, 'end');
    await fw.ask({ op: 'limits' });
    const after = await greetings(client, 83, 3);
    assert.ok(after.includes(held.line!), `${held.line} is below its limit again, yet got none of ${after.join(', ')}`);
  });

  test('max-connections: a member counts its connections of every service (one listing for all)', async () => {
    // held through one service, the member is full for the other too
    const held = await client.connect(84);
    assert.equal(held.ok, true, held.error);
    await fw.ask({ op: 'limits' });
    const names = await greetings(client, 83, 4);
    assert.ok(!names.includes(held.line!), `${held.line} is at its limit through limited-too, yet got ${names.join(', ')}`);
    assert.equal((await client.end(held.conn)).ending, 'end');
    await fw.ask({ op: 'limits' });
  });

  test('flush-on-down: a disabled member\'s connections are ended', async () => {
    const open = await client.connect(81);
    assert.equal(open.ok, true, open.error);
    const { rows: before } = await fw.ask({ op: 'connections', service: 'flushing' }) as { rows: Row[] };
    assert.equal(before.length, 1);
    await admin(memberOf(open.line!), 'disabled');
    try {
      const { rows } = await fw.ask({ op: 'connections', service: 'flushing' }) as { rows: Row[] };
      assert.deepEqual(rows, []);
      // conntrack forgot it: the next packet is balanced anew, to a member that resets it
      const answer = await client.send(open.conn, 'hello');
      assert.equal(answer.ok, false);
      assert.match(answer.error!, /ECONNRESET|closed by the peer/);
    } finally {
      await admin(memberOf(open.line!), 'enabled');
    }
  });

  test('persistence entries: the client network, its member, and when it expires', async () => {
    const c = await client.connect(82, NET.clientSameNet);
    assert.equal(c.ok, true, c.error);
    await client.end(c.conn);
    const { entries } = await fw.ask({ op: 'sticky', service: 'sticky' }) as { entries: { key: string; member: string; expiresIn: number; service: string }[] };
    assert.equal(entries.length, 1);
    assert.equal(entries[0].key, '10.88.1.0/24');
    assert.equal(entries[0].member, memberOf(c.line!));
    assert.equal(entries[0].service, 'sticky');
    assert.ok(entries[0].expiresIn > 0 && entries[0].expiresIn <= 600_000, String(entries[0].expiresIn));
  });

  test('a member that stops serving loses its persistent clients; they move and stay', async () => {
    const first = await client.connect(82, NET.client);
    await client.end(first.conn);
    await admin(memberOf(first.line!), 'disabled');
    try {
      const moved = await greetings(client, 82, 3, NET.client);
      assert.notEqual(moved[0], first.line);
      assert.deepEqual(moved, [moved[0], moved[0], moved[0]]);
      const { entries } = await fw.ask({ op: 'sticky', service: 'sticky' }) as { entries: { key: string; member: string }[] };
      assert.deepEqual(entries.map((e) => [e.key, e.member]), [['10.88.1.0/24', memberOf(moved[0])]]);
    } finally {
      await admin(memberOf(first.line!), 'enabled');
    }
  });
});

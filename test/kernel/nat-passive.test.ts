// Passive health on the nat path: conntrack sees the member's side of each connection, so a
// member whose port refuses (a reset to the SYN) or whose host drops packets (no answer to the
// SYN) is ejected after `failures` connections, while its monitor — on another port, which the
// failure does not touch — still says up; once the ejection time is over it is back. A hostile
// client's forged packets (raw sockets, peers/forge.py) do not get a serving member ejected: a SYN
// it resets itself before the member's SYN-ACK leaves the same DESTROY event as a refusal, and an
// ICMP port unreachable it sends about the VIP's datagrams is related to the flow as the member's.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ICMP_ERROR_MARK } from '../../src/kernel/render.ts';
import { createTopology, NET, type Topology } from './netns.ts';
import { greetings, startClient, startFuriwake, startServer, type Balancer, type Client } from './peers.ts';

const FORGE = join(import.meta.dirname, 'peers', 'forge.py');

const pool = (port: number, failures: number, ejection = '2s'): string => `    passive-health: { failures: ${failures}, ejection: ${ejection} }
    health:
      monitors: [ { type: tcp, port: 80, interval: 1s } ]
    members:
${NET.servers.map((ip, i) => `      - { address: ${ip}:${port}, id: s${i + 1} }`).join('\n')}`;

const CONFIG = `global: { log-level: debug }
services:
  refusing: { listen: ${NET.vip}:84, mode: nat, pool: p84 }
  dropping: { listen: ${NET.vip}:85, mode: nat, pool: p85 }
  silent: { listen: ${NET.vip}:86, mode: nat, protocol: udp, pool: p86 }
  attacked: { listen: ${NET.vip}:87, mode: nat, pool: p87 }
  logs: { listen: ${NET.vip}:88, mode: nat, protocol: udp, pool: p88 }
pools:
  p84:
${pool(84, 3)}
  p85:
${pool(85, 2)}
  p86:
${pool(86, 2, '8s')}
  p87:
${pool(87, 2, '60s')}
  p88:
${pool(88, 2, '60s')}
`;

type Event = Record<string, unknown>;

describe('nat passive health', () => {
  let t: Topology;
  let client: Client;
  let fw: Balancer;

  before(async () => {
    t = await createTopology(3);
    // every server answers its monitor on port 80, and serves 87 and 88; s3 alone has nothing on 84, 85 and 86
    await Promise.all([0, 1, 2].flatMap((i) => [startServer(t, i), startServer(t, i, 87), startServer(t, i, 88)]));
    await Promise.all([0, 1].flatMap((i) => [startServer(t, i, 84), startServer(t, i, 85), startServer(t, i, 86)]));
    client = await startClient(t);
    fw = await startFuriwake(t, CONFIG);
    // the monitors have seen every member up
    // conntrack's events are listened to (a reset SYN leaves no entry to list, only an event)
    await fw.event('kernel: listening to conntrack events');
    const up = await fw.event('member health changed', 15);
    await fw.out.wait((l) => l.includes('"msg":"kernel: ruleset applied"'), fw.out.all.findIndex((l) => l.includes(`"time":${String(up.time)},`)) + 1);
  });
  after(async () => {
    try {
      await fw?.stop();
    } finally {
      await t?.close();
    }
  });

  /** The next ejection change of `pool`'s member s3 after log line `from`, and the ruleset applied after it; its line index. */
  async function change(poolName: string, from: number): Promise<{ event: Event; index: number }> {
    const isChange = (l: string): boolean => {
      if (!l.startsWith('{')) return false;
      const e = JSON.parse(l) as Event;
      return e.msg === 'member ejection changed' && e.pool === poolName && e.member === 's3';
    };
    const line = await fw.out.wait(isChange, from);
    const index = fw.out.all.indexOf(line, from);
    await fw.out.wait((l) => l.includes('"msg":"kernel: ruleset applied"'), index + 1);
    return { event: JSON.parse(line) as Event, index };
  }

  const healthOf = (poolName: string): Event[] => fw.out.json().filter((e) => e.msg === 'member health changed' && e.pool === poolName && e.member === 's3' && e.to === 'down');

  test('a member whose port refuses is ejected after the threshold, its monitor still up, and comes back', async () => {
    const from = fw.out.all.length;
    // round-robin: every third connection goes to s3, which resets the SYN
    let refused = 0;
    for (let i = 0; i < 30 && refused < 3; i++) {
      const a = await client.connect(84);
      if (a.ok) await client.end(a.conn);
      else refused++;
    }
    assert.equal(refused, 3);
    const out = await change('p84', from);
    assert.equal(out.event.to, true);
    assert.match(String(out.event.reason), /^ejected: 3 consecutive connect failures, for 2 s$/);
    assert.deepEqual(healthOf('p84'), []);
    // ejected: new connections go to the other two alone
    assert.deepEqual(new Set(await greetings(client, 84, 4)), new Set(['s1', 's2']));
    await startServer(t, 2, 84);
    const back = await change('p84', out.index + 1);
    assert.deepEqual([back.event.to, back.event.reason], [false, 'ejection time over']);
    assert.ok((await greetings(client, 84, 3)).includes('s3'));
    assert.deepEqual(healthOf('p84'), []);
  });

  test("a member whose host drops the SYNs is ejected after the threshold (connect timeouts), and comes back", async () => {
    await t.run(t.servers[2], 'nft', ['-f', '-'], 'table inet drop85 {\n chain in {\n  type filter hook input priority 0; policy accept;\n  tcp dport 85 drop\n }\n}\n');
    const from = fw.out.all.length;
    // six connects at once, each given up after a second: round-robin sends two to s3, whose SYNs go unanswered
    const tries = Array.from({ length: 6 }, () => t.run(t.client, 'timeout', ['1', 'bash', '-c', `exec 3<>/dev/tcp/${NET.vip}/85`]).then(() => true, () => false));
    assert.equal((await Promise.all(tries)).filter((ok) => !ok).length, 2);
    const out = await change('p85', from);
    assert.equal(out.event.to, true);
    assert.match(String(out.event.reason), /^ejected: 2 consecutive connect timeouts, for 2 s$/);
    assert.deepEqual(healthOf('p85'), []);
    assert.deepEqual(new Set(await greetings(client, 85, 4)), new Set(['s1', 's2']));
    await t.run(t.servers[2], 'nft', ['delete', 'table', 'inet', 'drop85']);
    await startServer(t, 2, 85);
    const back = await change('p85', out.index + 1);
    assert.equal(back.event.to, false);
    assert.ok((await greetings(client, 85, 3)).includes('s3'));
  });

  test('a udp member whose port is closed is ejected after the ICMP errors of the threshold, and comes back', async () => {
    const from = fw.out.all.length;
    // six queries at once, each from its own port: round-robin sends two to s3, which answers with ICMP port unreachable
    // (ejected for 8 s: the unanswered queries wait 5 s, and the check after them must still find it out)
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => client.udp(86, `q${i}`)));
    assert.equal(answers.filter((a) => !a.ok).length, 2, JSON.stringify(answers));
    const out = await change('p86', from);
    assert.equal(out.event.to, true);
    assert.match(String(out.event.reason), /^ejected: 2 consecutive connect failures, for 8 s$/);
    assert.deepEqual(healthOf('p86'), []);
    const served = await Promise.all(Array.from({ length: 4 }, (_, i) => client.udp(86, `e${i}`)));
    assert.deepEqual(new Set(served.map((a) => a.text?.split(':')[0])), new Set(['s1', 's2']));
    await startServer(t, 2, 86);
    const back = await change('p86', out.index + 1);
    assert.equal(back.event.to, false);
    const again = await Promise.all(Array.from({ length: 3 }, (_, i) => client.udp(86, `b${i}`)));
    assert.ok(again.some((a) => a.text?.startsWith('s3:')), JSON.stringify(again));
  });

  const ejections = (poolName: string): Record<string, unknown>[] => fw.out.json().filter((e) => e.msg === 'member ejection changed' && e.pool === poolName);

  /** Connections served by the pool for `ms`: every listing meanwhile sees each member answer. */
  async function serve(port: number, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) assert.equal((await greetings(client, port, 3)).length, 3);
  }

  test('SYNs the client resets itself before the SYN-ACK do not eject members that serve others', async () => {
    // On a real network the client's reset, sent right behind its SYN, reaches the balancer long
    // before the member's SYN-ACK; between namespaces the SYN-ACK comes first. The members do
    // not see the attacker's SYNs, so its resets come first here too.
    await Promise.all(t.servers.map((ns) => t.run(ns, 'nft', ['-f', '-'], `table inet late {\n chain in {\n  type filter hook input priority 0; policy accept;\n  ip saddr ${NET.clientSameNet} tcp dport 87 drop\n }\n}\n`)));
    const serving = serve(87, 3_500);
    // 30 SYN + RST pairs: 10 per member, five times the threshold
    await t.run(t.client, 'python3', [FORGE, 'syn-rst', NET.clientSameNet, NET.vip, '87', '30']);
    await serving;
    assert.deepEqual(ejections('p87'), []);
    assert.deepEqual(new Set(await greetings(client, 87, 6)), new Set(['s1', 's2', 's3']));
  });

  test('ICMP unreachables the client forges about the VIP datagrams mark no flow: members that never reply are not ejected', async () => {
    // one-way datagrams (the members never reply, as a syslog server), each followed by a forged ICMP: 3 per member
    await t.run(t.client, 'python3', [FORGE, 'udp-icmp', NET.client, NET.vip, '88', '9']);
    const listed = (await t.run(t.balancer, 'conntrack', ['-L', '-p', 'udp', '--orig-port-dst', '88'])).stdout;
    const flows = listed.split('\n').filter((l) => l.includes('dport=88'));
    assert.equal(flows.length, 9, listed);
    assert.deepEqual(flows.filter((l) => (Number(/mark=(\d+)/.exec(l)?.[1] ?? 0) & ICMP_ERROR_MARK) !== 0), [], 'no flow is marked as refused');
    await serve(87, 2_500);
    assert.deepEqual(ejections('p88'), []);
  });
});

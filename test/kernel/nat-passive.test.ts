// Passive health on the nat path: conntrack sees the member's side of each connection, so a
// member whose port refuses (a reset to the SYN) or whose host drops packets (no answer to the
// SYN) is ejected after `failures` connections, while its monitor — on another port, which the
// failure does not touch — still says up; once the ejection time is over it is back.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTopology, NET, type Topology } from './netns.ts';
import { greetings, startClient, startFuriwake, startServer, type Balancer, type Client } from './peers.ts';

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
pools:
  p84:
${pool(84, 3)}
  p85:
${pool(85, 2)}
  p86:
${pool(86, 2, '8s')}
`;

type Event = Record<string, unknown>;

describe('nat passive health', () => {
  let t: Topology;
  let client: Client;
  let fw: Balancer;

  before(async () => {
    t = await createTopology(3);
    // every server answers its monitor on port 80; s3 alone has nothing on 84, 85 and 86
    await Promise.all([0, 1, 2].map((i) => startServer(t, i)));
    await Promise.all([0, 1].flatMap((i) => [startServer(t, i, 84), startServer(t, i, 85), startServer(t, i, 86)]));
    client = await startClient(t);
    fw = await startFuriwake(t, CONFIG);
    // the monitors have seen every member up
    // conntrack's events are listened to (a reset SYN leaves no entry to list, only an event)
    await fw.event('kernel: listening to conntrack events');
    const up = await fw.event('member health changed', 9);
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
});

// Kernel persistence between the nodes of a pair: a nat service with source-ip persistence on
// each node, the sync link over the back segment (no VRRP: the VIPs are moved by hand, as
// ha-conntrack.test.ts does). A client pinned to a member through node 1 reaches the same member
// through node 2 after the VIPs move, where node 2's round-robin would have given it another.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPair, PAIR, type Pair } from './ha-net.ts';
import { ip } from './namespaces.ts';
import { greetings, startClient, startFuriwake, startServer, type Balancer } from './peers.ts';

const KEY = 'kernel-persistence-key-0123456789';
/** client addresses: the first pick of node 1, two pinned through it (before and after node 2 came up), new ones */
const FIRST = '10.88.1.11';
const PINNED = '10.88.1.12';
const LATE = '10.88.1.13';
const OTHER = '10.88.1.14';
const BACK = '10.88.1.15';
const NEW = '10.88.1.16';

const config = (node: number): string => `global: { log-level: debug, shutdown-grace: 0s }
services:
  www:
    listen: ${PAIR.vip}:80
    mode: nat
    pool: web
    persistence: { method: source-ip, timeout: 5m }
pools:
  web:
    algorithm: round-robin
    members:
${PAIR.servers.map((s, i) => `      - { address: ${s}:80, id: s${i + 1} }`).join('\n')}
ha:
  conntrack-sync: false
  sync:
    listen: ${PAIR.back[node]}:7400
    peers: [ ${PAIR.back[1 - node]}:7400 ]
    key: ${KEY}
`;

describe('kernel persistence entries replicated between the nodes of a pair', () => {
  let pair: Pair;
  const balancers: Balancer[] = [];

  before(async () => {
    pair = await createPair(2, 3);
  });
  after(async () => {
    for (const b of balancers) await b.stop();
    await pair?.close();
  });

  /** Node `i` takes the VIP in front and the servers' gateway behind (or gives them up). */
  async function hold(node: number, holding: boolean): Promise<void> {
    for (const [address, dev] of [[PAIR.vip, 'eth0'], [PAIR.gateway, 'eth1']] as const) {
      await ip(['-n', pair.nodes[node], 'addr', holding ? 'add' : 'del', `${address}/${PAIR.prefixLength}`, 'dev', dev]);
    }
    if (holding) for (const ns of [pair.client, ...pair.servers]) await pair.run(ns, 'ip', ['neigh', 'flush', 'all']);
  }

  /** The persistence entries in node `i`'s kernel, as its listing shows them. */
  async function sticky(node: number): Promise<string> {
    return (await pair.run(pair.nodes[node], 'nft', ['-j', 'list', 'table', 'inet', 'furiwake'])).stdout;
  }

  test('a client pinned by source-ip through node 1 keeps its member through node 2 after the VIP moves, and back', { timeout: 60_000 }, async () => {
    for (let i = 0; i < pair.servers.length; i++) await startServer(pair, i, 80);
    for (const a of [FIRST, PINNED, LATE, OTHER, BACK, NEW]) await ip(['-n', pair.client, 'addr', 'add', `${a}/${PAIR.prefixLength}`, 'dev', 'eth0']);
    await hold(0, true);
    balancers.push(await startFuriwake(pair, config(0), pair.nodes[0]));
    await balancers[0].event('kernel: ruleset applied');
    const client = await startClient(pair);

    // through node 1 alone: the first new client takes the first member, the next one the second
    const [first] = await greetings(client, 80, 1, FIRST, PAIR.vip);
    const pinned = await greetings(client, 80, 2, PINNED, PAIR.vip);
    assert.notEqual(pinned[0], first);
    assert.deepEqual(pinned, [pinned[0], pinned[0]], 'kept on its member through node 1');

    // node 2 comes up: the link's full resynchronisation brings the entries made before it
    balancers.push(await startFuriwake(pair, config(1), pair.nodes[1]));
    await balancers[1].event('kernel: ruleset applied');
    await balancers[0].event('ha sync: link up, full resynchronisation sent');
    await waitForEntry(1, PINNED);
    // and a client pinned while the link is up travels as a change: the third member
    const [late] = await greetings(client, 80, 1, LATE, PAIR.vip);
    assert.ok(late !== first && late !== pinned[0], late);
    await waitForEntry(1, LATE);

    // failover
    await hold(0, false);
    await hold(1, true);

    // node 2 never picked for anyone: its round-robin would give a new client `first`; the pinned ones keep their members
    assert.deepEqual(await greetings(client, 80, 2, PINNED, PAIR.vip), [pinned[0], pinned[0]]);
    assert.deepEqual(await greetings(client, 80, 1, LATE, PAIR.vip), [late]);
    const [other] = await greetings(client, 80, 1, OTHER, PAIR.vip);
    assert.equal(other, first, 'a client node 2 did not know got its first pick');

    // the other way: a client pinned through node 2 (its second pick) keeps its member through node 1,
    // whose next pick for a new client is its first member again
    const [back] = await greetings(client, 80, 1, BACK, PAIR.vip);
    assert.notEqual(back, first);
    await waitForEntry(0, BACK);
    await hold(1, false);
    await hold(0, true);
    assert.deepEqual(await greetings(client, 80, 2, BACK, PAIR.vip), [back, back]);
    assert.deepEqual(await greetings(client, 80, 1, NEW, PAIR.vip), [first]);
  });

  /** Until node `i`'s kernel keeps `address` on some member (the test's timeout ends it otherwise). */
  async function waitForEntry(node: number, address: string): Promise<void> {
    while (!(await sticky(node)).includes(`"${address}"`));
  }
});

// The pair's network itself: every segment carries traffic, and an address moved by hand from one
// node to the other is reached through the node that holds it (what VRRP does, without VRRP).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPair, PAIR, type Pair } from './ha-net.ts';
import { ip } from './namespaces.ts';
import { startClient, startServer } from './peers.ts';

describe('the pair network of the HA tests', () => {
  let pair: Pair;
  before(async () => {
    pair = await createPair();
  });
  after(() => pair?.close());

  it('reaches each node from the client in front and each server from each node behind', async () => {
    for (let i = 0; i < pair.nodes.length; i++) {
      await pair.run(pair.client, 'ping', ['-c1', '-W2', PAIR.front[i]]);
      await pair.run(pair.client, 'ping', ['-6', '-c1', '-W2', PAIR.front6[i]]);
      for (const server of PAIR.servers.slice(0, pair.servers.length)) await pair.run(pair.nodes[i], 'ping', ['-c1', '-W2', server]);
    }
  });

  it('sends the client to whichever node holds the VIP', async () => {
    const server = await startServer(pair, 0);
    const client = await startClient(pair);
    for (const holder of [0, 1]) {
      const other = 1 - holder;
      await ip(['-n', pair.nodes[other], 'addr', 'flush', 'dev', 'eth0', 'to', `${PAIR.vip}/32`]);
      await ip(['-n', pair.nodes[holder], 'addr', 'add', `${PAIR.vip}/${PAIR.prefixLength}`, 'dev', 'eth0']);
      // the old holder's MAC may still be in the client's cache (keepalived's gratuitous ARP moves it)
      await pair.run(pair.client, 'ip', ['neigh', 'flush', 'all']);
      assert.deepEqual((await pair.addresses(pair.nodes[holder], 'eth0')).includes(PAIR.vip), true);
      assert.deepEqual((await pair.addresses(pair.nodes[other], 'eth0')).includes(PAIR.vip), false);
      // nothing listens on port 9: the holder resets the connection, and its MAC is the VIP's
      const refused = await client.connect(9, undefined, PAIR.vip);
      assert.match(String(refused.error), /ECONNREFUSED/);
      const mac = async (ns: string, args: string[]): Promise<string> => /lladdr ([0-9a-f:]{17})|link\/ether ([0-9a-f:]{17})/.exec((await pair.run(ns, 'ip', args)).stdout)?.slice(1).find(Boolean) ?? 'none';
      assert.equal(await mac(pair.client, ['neigh', 'show', PAIR.vip]), await mac(pair.nodes[holder], ['link', 'show', 'eth0']));
    }
    // the back segment is reached only through the pair
    const direct = await client.connect(80, undefined, PAIR.servers[0]);
    assert.equal(direct.ok, false);
    await server.stop();
  });
});

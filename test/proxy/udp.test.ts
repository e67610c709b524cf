// The udp data plane: flows keep their member, replies come from the service address, idle
// flows expire, the flow table is bounded and shown in the connection table.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { UdpListener } from '../../src/proxy/udp-listener.ts';
import { startApp } from '../helpers/app.ts';
import { udpClient } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { startUdpServer, type UdpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';

let servers: UdpServer[];
before(async () => {
  servers = await Promise.all(['a', 'b'].map((n) => startUdpServer(n)));
});

function members() {
  return servers.map((s) => ({ port: s.port, id: s.name }));
}

describe('udp service', () => {
  it('keeps every datagram of a flow on one member and answers from the service address', async () => {
    const app = await startApp(single('udp', pool('round-robin', members())));
    const vip = app.address('svc');
    const one = await udpClient();
    const two = await udpClient();
    const answers1 = [];
    const answers2 = [];
    for (let i = 0; i < 5; i++) {
      answers1.push(await one.ask(vip.port, `one-${i}`));
      answers2.push(await two.ask(vip.port, `two-${i}`));
    }
    assert.deepEqual(answers1.map((a) => a.text), [0, 1, 2, 3, 4].map((i) => `a:one-${i}`));
    assert.deepEqual(answers2.map((a) => a.text), [0, 1, 2, 3, 4].map((i) => `b:two-${i}`));
    for (const a of [...answers1, ...answers2]) {
      assert.equal(a.from.address, '127.0.0.1');
      assert.equal(a.from.port, vip.port);
    }
    // each flow reached its member from one balancer port
    assert.equal(new Set(servers[0].from).size, 1);

    const flows = [...app.runtime.connections.list({ service: 'svc' })];
    assert.equal(flows.length, 2);
    const f1 = flows.find((f) => f.client.port === one.port)!;
    assert.equal(f1.protocol, 'udp');
    assert.equal(f1.member?.id, 'a');
    assert.equal(f1.bytesIn, 5 * 'one-0'.length);
    assert.equal(f1.bytesOut, 5 * 'a:one-0'.length);
    assert.equal(servers[0].from[0], `127.0.0.1:${f1.local?.port}`);
    await one.close();
    await two.close();
  });

  it('expires idle flows; the next datagram opens a new flow', async () => {
    const app = await startApp(single('udp', pool('round-robin', members()), { timeouts: { connect: 1000, idle: 40 } }));
    const vip = app.address('svc');
    const client = await udpClient();
    assert.equal((await client.ask(vip.port, 'x')).text, 'a:x');
    assert.equal(app.runtime.connections.size, 1);
    await app.runtime.connections.drained();
    assert.equal(app.runtime.member('p', 'a')!.active, 0);
    // a new flow: round-robin moves on to b
    assert.equal((await client.ask(vip.port, 'y')).text, 'b:y');
    await client.close();
  });

  it('bounds the flow table: a new client beyond max-flows takes the least recently active flow\'s place', async () => {
    const app = await startApp(single('udp', pool('round-robin', members()), { maxFlows: 1 }));
    const vip = app.address('svc');
    const first = await udpClient();
    const second = await udpClient();
    assert.equal((await first.ask(vip.port, '1')).text, 'a:1');
    // the table is full: the first client's flow gives way (its member slot too), the second gets in
    assert.equal((await second.ask(vip.port, '2')).text, 'b:2');
    const listener = app.listener('svc') as UdpListener;
    assert.equal(listener.evicted, 1);
    assert.equal(listener.dropped, 0);
    assert.equal(app.runtime.resources.flowsEvicted, 1);
    assert.equal(app.runtime.connections.size, 1);
    assert.equal([...app.runtime.connections.list()][0].client.port, second.port);
    assert.equal(app.runtime.member('p', 'a')!.active, 0);
    // and back: the first client is a new flow again
    assert.equal((await first.ask(vip.port, '3')).text, 'a:3');
    assert.equal(listener.evicted, 2);
    assert.equal(app.runtime.connections.size, 1);
    await first.close();
    await second.close();
  });

  it('drops a datagram whose handling throws and closes its flow, never the process: counted, and the next one is served', async () => {
    const app = await startApp(single('udp', pool('round-robin', members())));
    const vip = app.address('svc');
    const listener = app.listener('svc') as UdpListener;
    const p = app.runtime.pools.get('p')!;
    const client = await udpClient();
    // a bug while a client's datagram opens its flow, once
    const acquire = p.acquire;
    p.acquire = () => {
      p.acquire = acquire;
      throw new Error('injected failure');
    };
    const lost = client.ask(vip.port, 'lost');
    await until(() => app.runtime.resources.connectionsFailed === 1);
    // a bug while the member's answer goes back to the client, once
    const reply = listener.reply;
    listener.reply = () => {
      listener.reply = reply;
      throw new Error('injected failure');
    };
    const other = await udpClient();
    const lostToo = other.ask(vip.port, 'lost too');
    await until(() => app.runtime.resources.connectionsFailed === 2);
    // its flow is closed, its member slot given back; the next datagrams are served
    await until(() => app.runtime.connections.size === 0);
    assert.equal(p.members.reduce((n, m) => n + m.active, 0), 0);
    const third = await udpClient();
    assert.equal((await third.ask(vip.port, 'x')).text.endsWith(':x'), true);
    void lost;
    void lostToo;
    await Promise.all([client.close(), other.close(), third.close()]);
  });
});

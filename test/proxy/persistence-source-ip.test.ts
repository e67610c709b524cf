// source-ip persistence through real tcp and udp services: clients of one network (mask 24)
// share a member; a member that goes down loses its clients to another, which keeps them; drain
// keeps persistent clients; the stick table is readable and deletable through the service.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { before, describe, it } from 'node:test';
import type { PersistenceConfig } from '../../src/config/persistence-types.ts';
import type { Furiwake } from '../../src/app.ts';
import { startApp } from '../helpers/app.ts';
import { greeted, greeting } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { startTcpServer, startUdpServer, type TcpServer, type UdpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';

function sourceIp(mask: number, extra: Partial<PersistenceConfig> = {}): PersistenceConfig {
  return { method: 'source-ip', whenFull: 'repin', mask, mask6: 128, timeout: 60_000, maxEntries: 1000, ...extra } as PersistenceConfig;
}

/** One datagram from a fresh socket bound to `from` (so a new flow each time); the member's answer. */
async function askFrom(port: number, from: string, text: string): Promise<string> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, from);
  await once(socket, 'listening');
  try {
    const reply = once(socket, 'message') as Promise<[Buffer]>;
    socket.send(text, port, '127.0.0.1');
    const [msg] = await reply;
    return msg.toString();
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/** The name a udp member answered with (`a:hello` -> `a`). */
function udpMember(reply: string): string {
  return reply.slice(0, reply.indexOf(':'));
}

/** Resolves when the app's connection table is empty: every flow or connection has ended. */
function allClosed(app: Furiwake): Promise<void> {
  return app.runtime.connections.drained();
}

describeOnEachEngine('source-ip persistence over tcp', () => {
  let servers: TcpServer[];
  before(async () => {
    servers = await Promise.all(['a', 'b', 'c'].map((n) => startTcpServer(n)));
  });
  const members = () => servers.map((s) => ({ port: s.port, id: s.name }));

  it('mask 24: 127.0.0.1 and 127.0.0.2 share a member; round-robin alone would alternate', async () => {
    const app = await startApp(single('tcp', pool('round-robin', members()), { persistence: sourceIp(24) }));
    const port = app.address('svc').port;
    const seen = [];
    for (let i = 0; i < 3; i++) {
      seen.push(await greeting(port, '127.0.0.1'));
      seen.push(await greeting(port, '127.0.0.2'));
    }
    assert.deepEqual(seen, ['a', 'a', 'a', 'a', 'a', 'a']);
    const table = app.runtime.services.get('svc')!.stickTable!;
    assert.deepEqual(table.entries().map((e) => [e.key, e.member]), [['127.0.0.0/24', 'a']]);
    assert.deepEqual(table.counters, { hits: 5, misses: 1, expirations: 0, evictions: 0 });
  });

  it('mask 32: each address has its own member and keeps it', async () => {
    const app = await startApp(single('tcp', pool('round-robin', members()), { persistence: sourceIp(32) }));
    const port = app.address('svc').port;
    const one = await greeting(port, '127.0.0.1');
    const two = await greeting(port, '127.0.0.2');
    assert.notEqual(one, two);
    for (let i = 0; i < 3; i++) {
      assert.equal(await greeting(port, '127.0.0.2'), two);
      assert.equal(await greeting(port, '127.0.0.1'), one);
    }
  });

  it('re-pins when the member goes down; the new member keeps the client when the old one is back', async () => {
    const app = await startApp(single('tcp', pool('round-robin', members()), { persistence: sourceIp(24) }));
    const port = app.address('svc').port;
    assert.equal(await greeting(port, '127.0.0.1'), 'a');
    const a = app.runtime.member('p', 'a')!;
    a.setHealth('down');
    const moved = await greeting(port, '127.0.0.1');
    assert.notEqual(moved, 'a');
    assert.equal(await greeting(port, '127.0.0.2'), moved);
    a.setHealth('up');
    assert.equal(await greeting(port, '127.0.0.1'), moved);
    assert.equal(app.runtime.services.get('svc')!.persistence!.repinned, 1);
  });

  it('drain keeps persistent clients on the draining member and sends new ones elsewhere', async () => {
    const app = await startApp(single('tcp', pool('round-robin', members()), { persistence: sourceIp(32) }));
    const port = app.address('svc').port;
    assert.equal(await greeting(port, '127.0.0.1'), 'a');
    app.runtime.member('p', 'a')!.setAdmin('drain');
    const others = [];
    for (const from of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']) others.push(await greeting(port, from));
    assert.ok(!others.includes('a'), `new clients went to ${others.join(', ')}`);
    assert.equal(await greeting(port, '127.0.0.1'), 'a');
  });

  it('when-full repin (the default): a client whose member is full goes to another, which keeps it', async () => {
    const limited = servers.map((s) => ({ port: s.port, id: s.name, maxConnections: 1 }));
    const app = await startApp(single('tcp', pool('round-robin', limited), { persistence: sourceIp(32) }));
    const port = app.address('svc').port;
    const first = await greeted(port, '127.0.0.1');
    assert.equal(first.line, 'a');
    const second = await greeted(port, '127.0.0.1');
    assert.equal(second.line, 'b');
    first.socket.destroy();
    second.socket.destroy();
    await allClosed(app);
    assert.equal(await greeting(port, '127.0.0.1'), 'b');
  });

  it('when-full wait: a client whose member is full waits for it; any member takes it once its own goes down', async () => {
    const limited = servers.map((s) => ({ port: s.port, id: s.name, maxConnections: 1 }));
    const app = await startApp(single('tcp', pool('round-robin', limited, { max: 10, timeout: 10_000 }), { persistence: sourceIp(32, { whenFull: 'wait' }) }));
    const port = app.address('svc').port;
    const p = app.runtime.pools.get('p')!;
    const first = await greeted(port, '127.0.0.1');
    assert.equal(first.line, 'a');
    // b and c have room, yet the client waits for a
    const second = greeted(port, '127.0.0.1');
    await until(() => p.queued === 1);
    // a client without a member of its own is not held up by it
    const other = await greeted(port, '127.0.0.2');
    assert.equal(other.line, 'b');
    first.socket.destroy();
    const served = await second;
    assert.equal(served.line, 'a');
    // waiting again, and this time a goes down meanwhile
    const third = greeted(port, '127.0.0.1');
    await until(() => p.queued === 1);
    app.runtime.member('p', 'a')!.setHealth('down');
    assert.equal((await third).line, 'c');
    for (const held of [served, other, await third]) held.socket.destroy();
    await allClosed(app);
    assert.equal(p.queued, 0);
  });

  it('the stick table is deletable: a deleted client is chosen for again', async () => {
    const app = await startApp(single('tcp', pool('round-robin', members()), { persistence: sourceIp(32) }));
    const port = app.address('svc').port;
    assert.equal(await greeting(port, '127.0.0.1'), 'a');
    assert.equal(await greeting(port, '127.0.0.2'), 'b');
    const table = app.runtime.services.get('svc')!.stickTable!;
    assert.equal(table.delete('127.0.0.1'), true);
    assert.equal(await greeting(port, '127.0.0.1'), 'c');
    assert.equal(table.clear(), 2);
    assert.equal(await greeting(port, '127.0.0.2'), 'a');
  });

  it('evicts the least recently seen client beyond max-entries', async () => {
    const app = await startApp(single('tcp', pool('round-robin', members()), { persistence: sourceIp(32, { maxEntries: 2 }) }));
    const port = app.address('svc').port;
    // Each connection is let finish before the next: its end counts as the client's activity.
    const visit = async (from: string): Promise<string> => {
      const member = await greeting(port, from);
      await allClosed(app);
      return member;
    };
    assert.equal(await visit('127.0.0.1'), 'a');
    assert.equal(await visit('127.0.0.2'), 'b');
    assert.equal(await visit('127.0.0.1'), 'a');
    assert.equal(await visit('127.0.0.3'), 'c'); // 127.0.0.2 was the least recent: evicted
    const table = app.runtime.services.get('svc')!.stickTable!;
    assert.deepEqual(table.entries().map((e) => e.key), ['127.0.0.3', '127.0.0.1']);
    assert.equal(table.counters.evictions, 1);
    assert.equal(await greeting(port, '127.0.0.2'), 'a'); // round-robin's turn: a new choice
  });

  it('keeps the table across a reload that does not change persistence; a new setting starts afresh', async () => {
    const config = single('tcp', pool('round-robin', members()), { persistence: sourceIp(32) });
    const app = await startApp(config);
    const port = app.address('svc').port;
    assert.equal(await greeting(port, '127.0.0.1'), 'a');
    await app.reload({ ...config, services: { svc: { ...config.services.svc, retries: 1 } } });
    assert.equal(app.runtime.services.get('svc')!.stickTable!.peek('127.0.0.1')?.member, 'a');
    await app.reload({ ...config, services: { svc: { ...config.services.svc, persistence: sourceIp(24) } } });
    assert.equal(app.runtime.services.get('svc')!.stickTable!.size, 0);
  });
});

describe('source-ip persistence over udp', () => {
  let servers: UdpServer[];
  before(async () => {
    servers = await Promise.all(['a', 'b', 'c'].map((n) => startUdpServer(n)));
  });
  const members = () => servers.map((s) => ({ port: s.port, id: s.name }));

  it('mask 24: new flows from 127.0.0.1 and 127.0.0.2 share a member', async () => {
    const app = await startApp(single('udp', pool('round-robin', members()), { persistence: sourceIp(24) }));
    const port = app.address('svc').port;
    const seen = [];
    for (let i = 0; i < 3; i++) {
      seen.push(udpMember(await askFrom(port, '127.0.0.1', `x${i}`)));
      seen.push(udpMember(await askFrom(port, '127.0.0.2', `y${i}`)));
    }
    assert.deepEqual(seen, ['a', 'a', 'a', 'a', 'a', 'a']);
    assert.equal(app.runtime.connections.size, 6); // six flows (six client ports), one member
  });

  it('mask 32: each address keeps its own member', async () => {
    const app = await startApp(single('udp', pool('round-robin', members()), { persistence: sourceIp(32) }));
    const port = app.address('svc').port;
    const one = udpMember(await askFrom(port, '127.0.0.1', 'x'));
    const two = udpMember(await askFrom(port, '127.0.0.2', 'y'));
    assert.notEqual(one, two);
    assert.equal(udpMember(await askFrom(port, '127.0.0.2', 'y')), two);
    assert.equal(udpMember(await askFrom(port, '127.0.0.1', 'x')), one);
  });

  it('re-pins when the member goes down', async () => {
    const app = await startApp(single('udp', pool('round-robin', members()), { persistence: sourceIp(24) }));
    const port = app.address('svc').port;
    assert.equal(udpMember(await askFrom(port, '127.0.0.1', 'x')), 'a');
    app.runtime.member('p', 'a')!.setHealth('down');
    const moved = udpMember(await askFrom(port, '127.0.0.1', 'x'));
    assert.notEqual(moved, 'a');
    app.runtime.member('p', 'a')!.setHealth('up');
    assert.equal(udpMember(await askFrom(port, '127.0.0.2', 'x')), moved);
  });

  it('a flow open across a reload that changes persistence ends under the rule it started with', async () => {
    const config = single('udp', pool('round-robin', members()), { persistence: sourceIp(24), timeouts: { connect: 1000, idle: 100 } });
    const app = await startApp(config);
    const port = app.address('svc').port;
    const before = app.runtime.services.get('svc')!.stickTable!;
    assert.equal(udpMember(await askFrom(port, '127.0.0.1', 'x')), 'a');
    await app.reload({ ...config, services: { svc: { ...config.services.svc, persistence: sourceIp(32) } } });
    const after = app.runtime.services.get('svc')!.stickTable!;
    assert.notEqual(after, before);
    await allClosed(app); // the flow ends (idle) after the reload
    // its end touched the table it was chosen by, not the new one (whose keys are whole addresses)
    assert.equal(after.size, 0);
    assert.equal(before.peek('127.0.0.0/24')?.member, 'a');
  });

  it('a client is forgotten once the timeout has passed since its last flow ended, not before', async () => {
    // The stick table runs on the test's clock: it moves only when the test moves it.
    let now = 0;
    const app = await startApp(single('udp', pool('round-robin', members()), {
      persistence: sourceIp(32, { timeout: 200 }),
      timeouts: { connect: 1000, idle: 30 },
    }), { stickClock: () => now });
    const port = app.address('svc').port;
    const table = app.runtime.services.get('svc')!.stickTable!;
    assert.equal(udpMember(await askFrom(port, '127.0.0.1', 'x')), 'a');
    await allClosed(app);
    now += 199; // just within the timeout since the flow ended: still remembered
    assert.equal(udpMember(await askFrom(port, '127.0.0.1', 'x')), 'a');
    await allClosed(app);
    assert.equal(table.peek('127.0.0.1')?.expiresIn, 200); // the flow's end started the timeout again
    now += 201; // past the timeout since that flow ended: forgotten, round-robin chooses
    assert.equal(udpMember(await askFrom(port, '127.0.0.1', 'x')), 'b');
    assert.equal(table.counters.expirations, 1);
  });
});

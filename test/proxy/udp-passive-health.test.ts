// Passive health of udp services over real sockets: a member port where nothing listens (the
// kernel answers ICMP port unreachable) is ejected under load while no monitor sees it, and the
// pool's max-ejected-percent holds; a FreeRADIUS member that freezes (SIGSTOP) is ejected by its
// requests going unanswered (balance-per: radius-request); least-connections spreads RADIUS
// requests by those each member has in progress, not by flows.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import type { PassiveHealthConfig, PoolConfig } from '../../src/config/types.ts';
import type { UdpListener } from '../../src/proxy/udp-listener.ts';
import { memberReaches, startApp } from '../helpers/app.ts';
import { atEnd } from '../helpers/cleanup.ts';
import { pool, single } from '../helpers/config.ts';
import { freePort } from '../helpers/ports.ts';
import { until } from '../helpers/wait.ts';
import { startFreeRadius } from '../health/helpers-proto-radius.ts';

interface RadiusCodec {
  encode(args: { code: string; secret: string; identifier: number; attributes: [string, string][] }): Buffer;
  decode(args: { packet: Buffer; secret: string }): { code: string; identifier: number };
}
const radius = createRequire(import.meta.url)('radius') as RadiusCodec;
const SECRET = 'furiwake-passive';

/** No monitor: every member is up, whatever it does (passive health is what must see it). */
const NO_MONITOR: PoolConfig['health'] = { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'up' };

function passive(extra: Partial<PassiveHealthConfig> = {}): PassiveHealthConfig {
  return { failures: 5, ejection: 60_000, maxEjection: 300_000, maxEjectedPercent: 50, ...extra };
}

async function udpSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  atEnd(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

/** A member that answers each datagram with its name. */
async function namer(name: string): Promise<number> {
  const socket = await udpSocket();
  socket.on('message', (_data, from) => socket.send(name, from.port, from.address));
  return socket.address().port;
}

/**
 * `count` clients, each on a port of its own, sending a datagram every 5 ms until it is
 * answered: resolves with the answers. A client whose flow is on a dead member is answered once
 * that member is ejected (its flow moves: on-member-down reselect).
 */
async function clients(port: number, count: number): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, async () => {
    const socket = await udpSocket();
    const timer = setInterval(() => socket.send('hi', port, '127.0.0.1'), 5);
    socket.send('hi', port, '127.0.0.1');
    const [answer] = await once(socket, 'message');
    clearInterval(timer);
    return String(answer);
  }));
}

/** A RADIUS server that accepts every request at once (no secret checked: an echo of the header as Access-Accept). */
async function accepter(): Promise<dgram.Socket & { answered: number }> {
  const socket = Object.assign(await udpSocket(), { answered: 0 });
  socket.on('message', (data: Buffer, from) => {
    socket.answered++;
    const reply = Buffer.from(data.subarray(0, 20));
    reply[0] = 2; // Access-Accept
    reply.writeUInt16BE(20, 2);
    socket.send(reply, from.port, from.address);
  });
  return socket;
}

/** Two FreeRADIUS behind a radius-request service, round-robin, ejected after 3 failures; requests wait 500 ms. */
async function radiusPair() {
  const servers = [await startFreeRadius(SECRET, { user: 'pw' }), await startFreeRadius(SECRET, { user: 'pw' })];
  atEnd(() => Promise.all(servers.map((s) => s.peer.stop())));
  const app = await startApp(single('udp', pool('round-robin', [{ port: servers[0].port, id: 'a' }, { port: servers[1].port, id: 'b' }], {}, {
    health: NO_MONITOR, passiveHealth: passive({ failures: 3 }),
  }), { balancePer: 'radius-request', timeouts: { connect: 2_000, idle: 500 } }));
  return { servers, app };
}

describe('udp passive health', { timeout: 60_000 }, () => {
  it('ejects a member whose port answers ICMP unreachable while no monitor sees it; its clients move to the other', async () => {
    const a = await namer('a');
    const dead = await freePort();
    const app = await startApp(single('udp', pool('round-robin', [{ port: a, id: 'a' }, { port: dead, id: 'dead' }], {}, { health: NO_MONITOR, passiveHealth: passive() })));
    const vip = app.address('svc').port;
    const member = app.runtime.member('p', 'dead')!;

    // round-robin puts half of the clients on the dead member; they are answered once it is ejected
    const answers = await clients(vip, 20);
    assert.deepEqual(new Set(answers), new Set(['a']));
    assert.equal(member.passive.ejected, true);
    assert.match(member.passive.reason, /^ejected: \d+ consecutive ICMP unreachables \(udp\)$/);
    assert.equal(member.health, 'up', 'no monitor said anything');
    assert.ok(member.failed >= 5, `failed ${member.failed}`);
    // new clients never reach it while it is ejected
    const tried = member.total;
    assert.deepEqual(new Set(await clients(vip, 10)), new Set(['a']));
    assert.equal(member.total, tried);
  });

  it('never ejects past max-ejected-percent: of two dead members of three, one is ejected and one held', async () => {
    const a = await namer('a');
    const dead = [await freePort(), await freePort()];
    const app = await startApp(single('udp', pool('round-robin', [{ port: a, id: 'a' }, { port: dead[0], id: 'd1' }, { port: dead[1], id: 'd2' }], {}, {
      health: NO_MONITOR, passiveHealth: passive({ failures: 3, maxEjectedPercent: 50 }),
    })));
    const vip = app.address('svc').port;
    const [d1, d2] = [app.runtime.member('p', 'd1')!, app.runtime.member('p', 'd2')!];
    // clients on the held member are never answered: send from a few and wait for the cap to act
    const senders = await Promise.all(Array.from({ length: 9 }, udpSocket));
    const timer = setInterval(() => {
      for (const s of senders) s.send('hi', vip, '127.0.0.1');
    }, 5);
    try {
      await until(() => (d1.passive.ejected || d2.passive.ejected) && d1.passive.held + d2.passive.held > 0);
    } finally {
      clearInterval(timer);
    }
    assert.equal(Number(d1.passive.ejected) + Number(d2.passive.ejected), 1, 'one of three is 33 %, two would be 66 %');
    assert.equal(app.runtime.pools.get('p')!.passive.ejected, 1);
  });

  it('ejects a frozen FreeRADIUS member (SIGSTOP) by its unanswered requests; every request then goes to the other', async () => {
    const { servers, app } = await radiusPair();
    const vip = app.address('svc').port;
    const socket = await udpSocket();
    const answers = new Map<number, string>();
    socket.on('message', (data: Buffer) => {
      const reply = radius.decode({ packet: data, secret: SECRET });
      answers.set(reply.identifier, reply.code);
    });
    let identifier = 0;
    const send = (): number => {
      const id = identifier++ & 0xff;
      answers.delete(id);
      socket.send(radius.encode({ code: 'Access-Request', secret: SECRET, identifier: id, attributes: [['User-Name', 'user'], ['User-Password', 'pw']] }), vip, '127.0.0.1');
      return id;
    };
    const ask = async (): Promise<string> => {
      const id = send();
      await until(() => answers.has(id), socket, 'message');
      return answers.get(id)!;
    };
    for (let i = 0; i < 4; i++) assert.equal(await ask(), 'Access-Accept');

    const frozen = servers[0].peer.pid;
    process.kill(frozen, 'SIGSTOP');
    atEnd(async () => {
      process.kill(frozen, 'SIGCONT');
    });
    // a NAS keeps sending; half of the requests go to the frozen server until it is ejected
    const timer = setInterval(send, 20);
    const a = await memberReaches(app, 'p', 'a', (m) => m.passive.ejected).finally(() => clearInterval(timer));
    assert.match(a.passive.reason, /^ejected: 3 consecutive requests with no reply \(udp\)$/);
    assert.equal(a.health, 'up');
    assert.ok((app.listener('svc') as UdpListener).pending.unanswered >= 3);
    const before = a.total;
    for (let i = 0; i < 10; i++) assert.equal(await ask(), 'Access-Accept');
    assert.equal(a.total, before, 'nothing more went to the frozen server');
  });

  it('a hostile client cannot get a FreeRADIUS member ejected: its requests signed with a wrong secret go unanswered while the member answers others', async () => {
    const { app } = await radiusPair();
    const vip = app.address('svc').port;
    const listener = app.listener('svc') as UdpListener;
    // a NAS with the right secret, answered all along
    const nas = await udpSocket();
    let accepted = 0;
    nas.on('message', (data: Buffer) => {
      if (radius.decode({ packet: data, secret: SECRET }).code === 'Access-Accept') accepted++;
    });
    let identifier = 0;
    const timer = setInterval(() => {
      nas.send(radius.encode({ code: 'Access-Request', secret: SECRET, identifier: identifier++ & 0xff, attributes: [['User-Name', 'user'], ['User-Password', 'pw']] }), vip, '127.0.0.1');
    }, 20);
    try {
      await until(() => accepted >= 4, nas, 'message');
      // the attacker: a burst of Accounting-Requests with a wrong secret, which FreeRADIUS drops
      // without a word (invalid Request Authenticator): more than the threshold on each member
      const hostile = await udpSocket();
      for (let id = 0; id < 20; id++) {
        hostile.send(radius.encode({ code: 'Accounting-Request', secret: 'not-the-secret', identifier: id, attributes: [['User-Name', 'user'], ['Acct-Status-Type', 'Start'], ['Acct-Session-Id', `s${id}`]] }), vip, '127.0.0.1');
      }
      await until(() => listener.pending.unanswered >= 20);
    } finally {
      clearInterval(timer);
    }
    for (const id of ['a', 'b']) {
      const m = app.runtime.member('p', id)!;
      assert.equal(m.passive.ejected, false, `${id}: ${m.passive.reason}`);
      assert.equal(m.passive.failures, 0, `${id} answered the NAS after each request the attacker sent it`);
    }
  });

  it('least-connections spreads RADIUS requests by those in progress: a member that answers nothing gets no more', async () => {
    // `silent` keeps every request; `answering` accepts each at once (no secret checked: an echo of the header as Access-Accept)
    const silent = await udpSocket();
    const held: Buffer[] = [];
    silent.on('message', (data: Buffer) => held.push(data));
    const answering = await accepter();
    const app = await startApp(single('udp', pool('least-connections', [{ port: silent.address().port, id: 's' }, { port: answering.address().port, id: 'r' }], {}, {
      health: NO_MONITOR, passiveHealth: passive({ failures: 0 }),
    }), { balancePer: 'radius-request' }));
    const vip = app.address('svc').port;
    const client = await udpSocket();
    let replies = 0;
    client.on('message', () => replies++);
    for (let id = 0; id < 20; id++) {
      client.send(radius.encode({ code: 'Access-Request', secret: SECRET, identifier: id, attributes: [['User-Name', 'user'], ['User-Password', 'pw']] }), vip, '127.0.0.1');
      // the request was placed (and, on the answering member, answered)
      await until(() => held.length + replies === id + 1);
    }
    // the first may go to either; once the silent member has one in progress it gets no more
    assert.ok(held.length <= 1, `the silent member got ${held.length} requests`);
    assert.equal(answering.answered, 20 - held.length);
    assert.equal(app.runtime.member('p', 's')!.active, held.length, 'its unanswered request holds its place');
    assert.equal(app.runtime.member('p', 'r')!.active, 0);
  });

  it('requests awaiting a member a reload removes give its place back when their wait is over, and never eject it', async () => {
    const silent = await udpSocket();
    const held: Buffer[] = [];
    silent.on('message', (data: Buffer) => held.push(data));
    const others = [await accepter(), await accepter(), await accepter()];
    const config = single('udp', pool('round-robin', [{ port: silent.address().port, id: 's' }, ...others.map((o, i) => ({ port: o.address().port, id: `o${i}` }))], {}, {
      health: NO_MONITOR, passiveHealth: passive({ failures: 1 }),
    }), { balancePer: 'radius-request', timeouts: { connect: 2_000, idle: 500 } });
    const app = await startApp(config);
    const vip = app.address('svc').port;
    const listener = app.listener('svc') as UdpListener;
    const s = app.runtime.member('p', 's')!;
    const client = await udpSocket();
    for (let id = 0; id < 8; id++) client.send(radius.encode({ code: 'Access-Request', secret: SECRET, identifier: id, attributes: [['User-Name', 'user']] }), vip, '127.0.0.1');
    await until(() => held.length === 2 && others.every((o) => o.answered === 2));
    assert.equal(s.active, 2);
    const p = config.pools.p;
    await app.reload({ ...config, pools: { p: { ...p, members: p.members.filter((m) => m.id !== 's') } } });
    await until(() => listener.pending.size === 0);
    assert.equal(s.active, 0, 'its places are given back');
    assert.equal(s.passive.ejected, false, 'a member no longer in the pool is not ejected');
    assert.equal(app.runtime.pools.get('p')!.passive.ejected, 0, 'nor does it count against max-ejected-percent of the 3 left');
    for (let i = 0; i < 3; i++) assert.equal(app.runtime.member('p', `o${i}`)!.active, 0);
  });
});

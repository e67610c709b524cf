// global.workers with udp services: every worker binds the service (SO_REUSEPORT), the kernel
// keeps each client's datagrams on one worker, so a flow is never split. Real echo members, real
// RADIUS peers (the `radius` package) on loopback.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { Furiwake } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';
import { UdpListener } from '../../src/proxy/udp-listener.ts';
import { forWorker } from '../../src/workers/udp-share.ts';
import { WorkersListener } from '../../src/workers/workers-listener.ts';
import { call, startAdminApp } from '../admin/helpers.ts';
import { parsePrometheus, value } from '../admin/prometheus-text.ts';
import { startApp } from '../helpers/app.ts';
import { atEnd } from '../helpers/cleanup.ts';
import { udpClient } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { startUdpServer, type UdpServer } from '../helpers/servers.ts';
import { until } from '../helpers/wait.ts';
import { freePort } from '../helpers/ports.ts';
import { tempDir } from '../helpers/files.ts';
import { received, uac, uas } from '../proxy/udp-sip-helpers.ts';
import { accessRequest, radiusClient, radiusService, startChallenger } from '../proxy/udp-radius-helpers.ts';

/** enough clients that both workers get some (all on one: a chance of 2^-(CLIENTS-1)) */
const CLIENTS = 40;
/** datagrams each client sends, one after the other */
const SERIES = 5;

function withWorkers(config: Config, workers: number): Config {
  return { ...config, global: { ...config.global, workers } };
}

/** A udp member that answers `name:port:text`, the port being the balancer socket it heard (one per flow). */
async function startPortEcho(name: string): Promise<{ port: number }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, from) => socket.send(`${name}:${from.port}:${msg.toString()}`, from.port, from.address));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  atEnd(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { port: socket.address().port };
}

/** Each of `clients` sockets sends `series` datagrams in turn (the clients at once); the answers of each. */
async function series(port: number, clients: number, count: number): Promise<string[][]> {
  return Promise.all(Array.from({ length: clients }, async (_, c) => {
    const client = await udpClient();
    const answers: string[] = [];
    for (let i = 0; i < count; i++) answers.push((await client.ask(port, `c${c}-${i}`)).text);
    await client.close();
    return answers;
  }));
}

/** Live flows in each worker's table. */
async function flowsPerWorker(app: Furiwake): Promise<number[]> {
  return (await app.workers!.stats()).map((s) => s.connections);
}

let echoes: { port: number }[];
before(async () => {
  echoes = await Promise.all([startPortEcho('a'), startPortEcho('b')]);
});

function echoService(): Config {
  return withWorkers(single('udp', pool('round-robin', [{ port: echoes[0].port, id: 'a' }, { port: echoes[1].port, id: 'b' }])), 2);
}

describe('workers: 2, udp', () => {
  it('keeps every datagram of a client on one worker and one flow, and gives both workers flows', async () => {
    const app = await startApp(echoService());
    assert.ok(app.listener('svc') instanceof WorkersListener);
    const port = app.address('svc').port;
    const answers = await series(port, CLIENTS, SERIES);
    const flows = new Set<string>();
    answers.forEach((mine, c) => {
      assert.deepEqual(mine.map((a) => a.split(':')[2]), Array.from({ length: SERIES }, (_, i) => `c${c}-${i}`));
      // one member, one balancer socket: a flow split across workers would show two
      const seen = new Set(mine.map((a) => a.split(':').slice(0, 2).join(':')));
      assert.equal(seen.size, 1, `client ${c} reached its member through ${[...seen].join(', ')}`);
      flows.add([...seen][0]);
    });
    assert.equal(flows.size, CLIENTS);
    const perWorker = await flowsPerWorker(app);
    assert.equal(perWorker[0] + perWorker[1], CLIENTS);
    assert.ok(perWorker.every((n) => n > 0), `one worker took every flow: ${perWorker.join(', ')}`);
    // each flow holds a place on its member, counted once for the process
    assert.equal(app.runtime.member('p', 'a')!.active + app.runtime.member('p', 'b')!.active, CLIENTS);
  });

  it('a member disabled in the main thread gets no new flow on any worker', async () => {
    const app = await startApp(echoService());
    const port = app.address('svc').port;
    app.runtime.member('p', 'a')!.setAdmin('disabled');
    // each worker handles its messages in order: once it answers, it has the change
    await app.workers!.stats();
    const answers = await series(port, CLIENTS, 1);
    assert.deepEqual(new Set(answers.map(([a]) => a.split(':')[0])), new Set(['b']));
    assert.ok((await flowsPerWorker(app)).every((n) => n > 0));
  });

  it('balances each RADIUS request on its own in every worker; every request is answered, a State round keeps its member', async () => {
    const challengers = await Promise.all([startChallenger('a'), startChallenger('b')]);
    const app = await startApp(withWorkers(radiusService(challengers.map((c) => c.port)), 2));
    const port = app.address('svc').port;
    const issuers = await Promise.all(Array.from({ length: 16 }, async () => {
      const client = await radiusClient();
      const mine: string[] = [];
      for (let id = 0; id < 8; id += 2) {
        const challenge = await client.ask(port, accessRequest(id, 'alice', 'x'));
        assert.equal(challenge.code, 'Access-Challenge');
        const state = challenge.attributes.State as Buffer;
        const answer = await client.ask(port, accessRequest(id + 1, 'alice', 'x', state));
        assert.equal(answer.code, 'Access-Accept', 'the State round went to another server');
        mine.push(state.toString()[0]);
      }
      await client.close();
      return mine;
    }));
    // one client's sessions are balanced over both servers: per request, not per flow
    assert.ok(issuers.some((mine) => new Set(mine).size === 2));
    assert.equal(challengers[0].received.length + challengers[1].received.length, 16 * 8);
    const served = (await app.workers!.stats()).map((s) => s.served['p/a'] + s.served['p/b']);
    assert.ok(served.every((n) => n > 0), `one worker served every request: ${served.join(', ')}`);
    assert.equal(served[0] + served[1], 16 * 8);
  });

  it('keeps every message of a SIP call on its UAS, from UACs on any worker; every call completes', async () => {
    const dir = await tempDir('workers-sip');
    const logs = ['a', 'b'].map((n) => path.join(dir, `uas-${n}.log`));
    const servers = await Promise.all(logs.map(uas));
    const app = await startApp(withWorkers(single('udp', pool('round-robin', servers.map((s, i) => ({ port: s.port, id: 'ab'[i] }))), { balancePer: 'sip-dialog' }), 2));
    const port = app.address('svc').port;
    // one socket each: which worker reads a UAC is the kernel's choice
    const results = await Promise.all([0, 1, 2].map(() => uac(port, 6, ['-nr', '-recv_timeout', '5s'])));
    for (const r of results) assert.equal(r.code, 0, 'every call succeeded');
    await Promise.all(servers.map((s) => s.peer.stop())); // writes out its message log
    const [a, b] = await Promise.all(logs.map(received));
    assert.equal(a.size + b.size, 18);
    for (const calls of [a, b]) for (const [callId, methods] of calls) assert.deepEqual(methods, ['INVITE', 'ACK', 'BYE'], callId);
    const served = (await app.workers!.stats()).map((s) => s.served['p/a'] + s.served['p/b']);
    assert.ok(served[0] + served[1] > 0);
  });

  it('each worker ejects a member whose port answers ICMP unreachable (passive health) and moves its clients', async () => {
    const dead = await freePort();
    const health = { require: { kind: 'all' as const }, monitors: [], agent: null, initialState: 'up' as const };
    const passiveHealth = { failures: 5, ejection: 60_000, maxEjection: 300_000, maxEjectedPercent: 50 };
    const app = await startApp(withWorkers(single('udp', pool('round-robin', [{ port: echoes[0].port, id: 'a' }, { port: dead, id: 'dead' }], {}, { health, passiveHealth })), 2));
    const port = app.address('svc').port;
    // round-robin in each worker puts some clients on the dead member: each is answered once
    // the worker that holds its flow has ejected that member (a client resends until then)
    const answers = await Promise.all(Array.from({ length: CLIENTS }, async () => {
      const socket = dgram.createSocket('udp4');
      socket.bind(0, '127.0.0.1');
      await once(socket, 'listening');
      const again = setInterval(() => socket.send('hi', port, '127.0.0.1'), 5);
      const [answer] = (await once(socket, 'message')) as [Buffer];
      clearInterval(again);
      socket.close();
      return answer.toString().split(':')[0];
    }));
    assert.deepEqual(new Set(answers), new Set(['a']));
    const tried = (await app.workers!.stats()).map((s) => s.served['p/dead']);
    assert.ok(tried.every((n) => n > 0), `a worker sent no client to the dead member: ${tried.join(', ')}`);
    // the main thread's checks said nothing: the ejection is each worker's own
    assert.equal(app.runtime.member('p', 'dead')!.health, 'up');
  });

  it('counts what every worker drops, once, for the service: in the API and the metrics', async () => {
    const stray = await startChallenger('a', true);
    const { app, base } = await startAdminApp(withWorkers(radiusService([stray.port]), 2));
    const port = app.address('svc').port;
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      const client = await radiusClient();
      client.send(port, Buffer.from('hello'));
      client.send(port, Buffer.from('not radius either'));
      // datagrams of one socket are read in order, by one worker (and the member's, by the same
      // flow): once this is answered, the two above and the member's two strays were dropped
      assert.equal((await client.ask(port, accessRequest(1, 'alice', 'x'))).code, 'Access-Challenge');
      await client.close();
    }));
    assert.ok((await flowsPerWorker(app)).every((n) => n > 0));
    app.runtime.member('p', 'a')!.setAdmin('disabled');
    await app.workers!.stats();
    const late = await Promise.all(Array.from({ length: 4 }, () => radiusClient()));
    for (const client of late) client.send(port, accessRequest(1, 'alice', 'x'));
    const listener = app.listener('svc') as WorkersListener;
    await until(() => listener.drops!.noMember === late.length);
    assert.deepEqual(listener.drops, { malformed: 2 * CLIENTS, unmatched: 2 * CLIENTS, noMember: late.length, denied: 0 });
    const view = await call(base, '/api/v1/services/svc');
    assert.deepEqual(view.body.dropped, listener.drops);
    const m = parsePrometheus(await (await fetch(`${base}/metrics`)).text());
    const dropped = (reason: string) => value(m, 'furiwake_udp_datagrams_dropped_total', { service: 'svc', reason });
    assert.deepEqual([dropped('malformed'), dropped('unmatched'), dropped('no-member')], [2 * CLIENTS, 2 * CLIENTS, late.length]);
    await Promise.all(late.map((c) => c.close()));
  });

  it('a worker that dies is replaced: its flows are gone, and every client is answered again through one flow', async () => {
    const app = await startApp(echoService());
    const port = app.address('svc').port;
    await series(port, CLIENTS, 1);
    const kept = (await app.workers!.stats())[1].connections;
    const replaced = once(app.workers!, 'replaced');
    await app.workers!.thread(0).terminate();
    assert.deepEqual(await replaced, [0]);
    // the places worker 0's flows held are given back; worker 1's still count
    assert.equal(app.runtime.member('p', 'a')!.active + app.runtime.member('p', 'b')!.active, kept);
    for (const [c, mine] of (await series(port, CLIENTS, SERIES)).entries()) {
      assert.equal(new Set(mine.map((a) => a.split(':').slice(0, 2).join(':'))).size, 1, `client ${c} was split`);
    }
    assert.ok((await flowsPerWorker(app))[0] > 0, 'the new worker took no flow');
  });

  it('a reload reaches the udp service of every worker', async () => {
    const c = await startUdpServer('c');
    const app = await startApp(echoService());
    const port = app.address('svc').port;
    assert.deepEqual(await app.reload(withWorkers(single('udp', pool('round-robin', [{ port: c.port, id: 'c' }])), 2)), []);
    assert.equal(app.address('svc').port, port);
    const answers = await series(port, CLIENTS, 1);
    assert.deepEqual(new Set(answers.map(([a]) => a.split(':')[0])), new Set(['c']));
    const stats = await app.workers!.stats();
    assert.deepEqual(stats.map((s) => s.applied), [2, 2]);
    assert.ok(stats.every((s) => s.served['p/c'] > 0));
  });

  it('a stop reaches the udp service of every worker: the threads end and the port is free', async () => {
    const app = await startApp(echoService());
    const port = app.address('svc').port;
    await series(port, CLIENTS, 1);
    assert.ok((await flowsPerWorker(app)).every((n) => n > 0));
    const exits = [0, 1].map((i) => once(app.workers!.thread(i), 'exit'));
    await app.stop(0);
    await Promise.all(exits);
    // without SO_REUSEPORT this bind fails while any socket of the service is open
    const socket = dgram.createSocket('udp4');
    socket.bind(port, '127.0.0.1');
    await once(socket, 'listening');
    socket.close();
  });

  it('shares max-flows out between the workers', () => {
    const udp = single('udp', pool('round-robin', [{ port: 1, id: 'a' }]), { maxFlows: 1001 }).services.svc;
    assert.equal(forWorker(udp, 2).maxFlows, 500);
    assert.equal(forWorker({ ...udp, maxFlows: 1 }, 4).maxFlows, 1);
  });
});

describe('workers: 1, udp', () => {
  it('runs the udp service on the main thread\'s own listener', async () => {
    const server: UdpServer = await startUdpServer('a');
    const app = await startApp(withWorkers(single('udp', pool('round-robin', [{ port: server.port, id: 'a' }])), 1));
    assert.equal(app.workers, null);
    assert.ok(app.listener('svc') instanceof UdpListener);
    const client = await udpClient();
    assert.equal((await client.ask(app.address('svc').port, 'x')).text, 'a:x');
    await client.close();
  });
});

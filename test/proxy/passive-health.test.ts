// Passive health over real sockets: a member that refuses connections while its monitor says
// up is ejected after the threshold and new connections go only to the other; a pool is never
// emptied by it; an http member answering 503 is ejected. (The state machine's rules, on a fake
// clock: test/runtime/passive-health.test.ts.)

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import type { Config, PassiveHealthConfig, PoolConfig } from '../../src/config/types.ts';
import type { TcpMonitor } from '../../src/config/health-types.ts';
import { createLogger } from '../../src/log.ts';
import { adminConfig, call } from '../admin/helpers.ts';
import { logSink } from '../helpers/app.ts';
import { exchange, greeting } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { freePort, refusedPort } from '../helpers/ports.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { httpConfig, raw, startMember } from './http/helpers.ts';

/** A tcp monitor of `port` for every member: it says up whatever the members do. */
function monitorOf(port: number): PoolConfig['health'] {
  const monitor: TcpMonitor = { type: 'tcp', interval: 60_000, fastInterval: 60_000, timeout: 1_000, rise: 1, fall: 1, port, send: null, expect: null };
  return { require: { kind: 'all' }, monitors: [monitor], agent: null, initialState: 'up' };
}

function passive(extra: Partial<PassiveHealthConfig> = {}): PassiveHealthConfig {
  return { failures: 5, ejection: 60_000, maxEjection: 300_000, maxEjectedPercent: 50, ...extra };
}

async function start(config: Config): Promise<{ app: Furiwake; base: string; lines: Record<string, unknown>[] }> {
  const { sink, lines } = logSink();
  const app = await Furiwake.start({ ...config, admin: adminConfig() }, createLogger('info', sink));
  after(() => app.stop(0));
  return { app, base: `http://127.0.0.1:${app.admin.address()!.port}`, lines };
}

describe('passive health on real traffic', () => {
  it('ejects a tcp member that refuses connections while its monitor says up; new connections go to the other', async () => {
    const a = await startTcpServer('a');
    const dead = refusedPort();
    const p = pool('round-robin', [{ port: a.port, id: 'a' }, { port: dead, id: 'dead' }], {}, { health: monitorOf(a.port), passiveHealth: passive() });
    const { app, base, lines } = await start(single('tcp', p));
    const port = app.address('svc').port;
    const member = app.runtime.member('p', 'dead')!;
    // each connection that tries `dead` is retried on `a`: no client sees the failure
    let clients = 0;
    while (!member.passive.ejected) {
      assert.equal(await greeting(port), 'a');
      assert.ok(++clients <= 10, 'ejected within 10 connections');
    }
    assert.equal(member.failed, 5);
    assert.equal(member.health, 'up', 'the monitor still says up');
    const tried = member.total;
    for (let i = 0; i < 10; i++) assert.equal(await greeting(port), 'a');
    assert.equal(member.total, tried, 'no new connection tried the ejected member');

    const view = (await call(base, '/api/v1/pools/p/members/dead')).body;
    assert.equal(view.status, 'ejected');
    assert.equal(view.usable, false);
    assert.equal(view.passive.ejected, true);
    assert.equal(view.passive.ejections, 1);
    assert.equal(view.passive.reason, 'ejected: 5 consecutive connect failures');
    assert.ok(view.passive.ejectedUntil > Date.now() + 50_000);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^furiwake_member_ejections_total\{pool="p",member="dead"\} 1$/m);
    assert.match(metrics, /^furiwake_member_ejected\{pool="p",member="dead"\} 1$/m);
    assert.match(metrics, /^furiwake_member_state\{pool="p",member="dead",state="ejected"\} 1$/m);
    const logged = lines.find((l) => l.kind === 'ejection' && l.to === true);
    assert.equal(logged?.member, 'dead');
    assert.equal(logged?.reason, 'ejected: 5 consecutive connect failures, for 60 s');
  });

  it('ejects a tcp member that accepts and resets before any reply; one that answers is not counted', async () => {
    const a = await startTcpServer('a');
    // resets once the client's first bytes come: after the connect, before any reply
    const rst = await startTcpServer('rst', (socket) => socket.once('data', () => socket.resetAndDestroy()));
    const p = pool('round-robin', [{ port: a.port, id: 'a' }, { port: rst.port, id: 'rst' }], {}, { passiveHealth: passive() });
    const { app } = await start(single('tcp', p));
    const port = app.address('svc').port;
    const good = app.runtime.member('p', 'a')!;
    const member = app.runtime.member('p', 'rst')!;
    let resets = 0;
    for (let i = 0; i < 20 && !member.passive.ejected; i++) {
      // the reset comes after the connect: it is passed on to the client, not retried
      if ((await exchange(port, 'hello')).ending === 'reset') resets++;
    }
    assert.equal(resets, 5);
    assert.equal(member.failed, 0, 'every connect succeeded');
    assert.equal(member.passive.reason, 'ejected: 5 consecutive resets before any reply');
    assert.equal(good.passive.failures, 0);
    for (let i = 0; i < 5; i++) assert.equal(await greeting(port), 'a');
    assert.equal(rst.accepted, 5);
  });

  it('never ejects both members of a pool of 2 at max-ejected-percent 50', async () => {
    const [x, y] = [await freePort(), await freePort()];
    const p = pool('round-robin', [{ port: x, id: 'x' }, { port: y, id: 'y' }], {}, { passiveHealth: passive() });
    const { app, base, lines } = await start(single('tcp', p));
    const port = app.address('svc').port;
    const [mx, my] = [app.runtime.member('p', 'x')!, app.runtime.member('p', 'y')!];
    // both refuse: each client is reset after trying both; one member is ejected, the other held in
    for (let i = 0; i < 20; i++) assert.equal((await exchange(port)).ending, 'reset');
    assert.equal([mx, my].filter((m) => m.passive.ejected).length, 1);
    const kept = mx.passive.ejected ? my : mx;
    assert.equal(kept.passive.held, 1);
    assert.ok(kept.passive.failures >= 5);
    assert.equal(kept.usable, true);
    const view = (await call(base, `/api/v1/pools/p/members/${kept.id}`)).body;
    assert.equal(view.status, 'up');
    assert.equal(view.passive.held, 1);
    const held = lines.find((l) => l.kind === 'ejection' && l.to === false && l.from === false);
    assert.equal(held?.member, kept.id);
    assert.match(String(held?.reason), /^not ejected after 5 consecutive connect failures: max-ejected-percent 50 of the pool's 2 members reached$/);
  });

  it('ejects an http member that answers 503 five times in a row', async () => {
    const ok = await startMember('ok');
    const bad = await startMember('bad', (_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const p = pool('round-robin', [{ port: ok.port, id: 'ok' }, { port: bad.port, id: 'bad' }], {}, { passiveHealth: passive() });
    const { app, base } = await start(httpConfig(p));
    const port = app.address('svc').port;
    const member = app.runtime.member('p', 'bad')!;
    let answers503 = 0;
    for (let i = 0; i < 20 && !member.passive.ejected; i++) {
      const res = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      if (res.status === 503) answers503++;
    }
    // the member's 503s are passed on as they are (not retried); the fifth ejects it
    assert.equal(answers503, 5);
    assert.equal(member.passive.ejected, true);
    for (let i = 0; i < 6; i++) assert.equal((await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status, 200);
    assert.equal(bad.requests.length, 5);
    const view = (await call(base, '/api/v1/pools/p/members/bad')).body;
    assert.equal(view.passive.reason, 'ejected: 5 consecutive 5xx answers');
  });

  it('ejects an http member that closes connections before responding; its requests are retried on the other', async () => {
    const ok = await startMember('ok');
    const drop = await startMember('drop', (req) => req.socket.destroy());
    const p = pool('round-robin', [{ port: ok.port, id: 'ok' }, { port: drop.port, id: 'drop' }], {}, { passiveHealth: passive() });
    const { app } = await start(httpConfig(p));
    const port = app.address('svc').port;
    const member = app.runtime.member('p', 'drop')!;
    for (let i = 0; i < 20 && !member.passive.ejected; i++) {
      assert.equal((await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status, 200);
    }
    assert.equal(member.passive.reason, 'ejected: 5 consecutive resets before any reply');
    assert.equal(drop.requests.length, 5);
    for (let i = 0; i < 4; i++) assert.equal((await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status, 200);
    assert.equal(drop.requests.length, 5);
  });
});

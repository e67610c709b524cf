// Health monitoring through the running app: real servers, the tcp monitor, and the data plane
// following what the monitors decide.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import type { HttpMonitor, TcpMonitor } from '../../src/config/health-types.ts';
import type { AlgorithmName } from '../../src/config/types.ts';
import { createLogger } from '../../src/log.ts';
import { Checker } from '../../src/health/checker.ts';
import type { CheckResult, Monitor } from '../../src/health/monitor.ts';
import { createTcpMonitor } from '../../src/health/monitors/tcp.ts';
import { logSink, memberHealth, memberReaches, startApp } from '../helpers/app.ts';
import { exchange, greeted, greeting } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { freePort, refusedPort } from '../helpers/ports.ts';

function tcpMonitor(extra: Partial<TcpMonitor> = {}): TcpMonitor {
  return { type: 'tcp', interval: 20, fastInterval: 10, timeout: 500, rise: 2, fall: 2, port: null, send: null, expect: null, ...extra };
}

const server = startTcpServer;

/** A TCP server that can be stopped and started again on the same port. */
async function switchable(name: string): Promise<{ port: number; stop(): Promise<void>; start(): Promise<void> }> {
  let current = await startTcpServer(name);
  const port = current.port;
  after(() => current.close());
  return {
    port,
    stop: () => current.close(),
    async start() {
      const s = net.createServer((socket) => {
        socket.on('error', () => {});
        socket.end(`${name}\n`);
      });
      s.listen(port, '127.0.0.1');
      await once(s, 'listening');
      current = { ...current, close: async () => { s.close(); await once(s, 'close'); } };
    },
  };
}

describe('checker', () => {
  it('applies rise and fall: the first result decides, then fall failures or rise passes in a row', async () => {
    const target = await switchable('t');
    const checker = new Checker(tcpMonitor({ rise: 3, fall: 2 }), { host: '127.0.0.1', ip: '127.0.0.1', port: target.port }, createTcpMonitor(tcpMonitor()));
    const seen: string[] = [];
    let step = Promise.withResolvers<void>();
    checker.subscribe((c) => {
      seen.push(`${c.view.up ? 'pass' : 'fail'}:${c.state}`);
      step.resolve();
    });
    const next = async (): Promise<void> => {
      await step.promise;
      step = Promise.withResolvers<void>();
    };
    checker.start();
    await next();
    assert.deepEqual(seen, ['pass:up']);
    await target.stop();
    await next();
    await next();
    assert.deepEqual(seen.slice(1), ['fail:up', 'fail:down']);
    assert.equal(checker.view.reason, 'connection refused');
    await target.start();
    await next();
    await next();
    await next();
    assert.deepEqual(seen.slice(3), ['pass:down', 'pass:down', 'pass:up']);
    checker.close();
  });

  it('records a timeout in words when the monitor does not answer in time', async () => {
    // accepts, never answers: the expect never matches before the timeout
    const silent = await server('silent', () => {});
    const config = tcpMonitor({ timeout: 50, send: Buffer.from('PING\r\n'), expect: { kind: 'string', value: '+PONG' } });
    const checker = new Checker(config, { host: '127.0.0.1', ip: '127.0.0.1', port: silent.port }, createTcpMonitor(config));
    const done = Promise.withResolvers<void>();
    checker.subscribe(() => done.resolve());
    checker.start();
    await done.promise;
    checker.close();
    assert.equal(checker.view.up, false);
    assert.equal(checker.view.reason, 'timeout after 50 ms');
  });

  it('a monitor that throws, rejects or gives no result: a failed check "monitor error: …", logged; the schedule goes on and a later pass counts', async () => {
    // the three results, in order: a throw at once, a rejection later, a pass
    const outcomes: (() => Promise<CheckResult>)[] = [
      () => {
        throw new Error('boom');
      },
      () => Promise.reject(new TypeError('later boom')),
      () => Promise.resolve(undefined as unknown as CheckResult),
      () => Promise.resolve({ up: true, reason: 'fine' }),
    ];
    let runs = 0;
    const monitor: Monitor = { run: () => outcomes[Math.min(runs++, outcomes.length - 1)]() };
    const { sink, lines } = logSink();
    const checker = new Checker(tcpMonitor({ rise: 1, fall: 1 }), { host: 'web1', ip: '127.0.0.1', port: 8080 }, monitor, createLogger('info', sink));
    const seen: string[] = [];
    const fourth = Promise.withResolvers<void>();
    checker.subscribe((c) => {
      seen.push(`${c.state}:${c.view.reason}`);
      if (seen.length === 4) fourth.resolve();
    });
    checker.start();
    await fourth.promise;
    checker.close();
    assert.deepEqual(seen, ['down:monitor error: boom', 'down:monitor error: later boom', 'down:monitor error: no result', 'up:fine']);
    const logged = lines.filter((l) => l.msg === 'monitor error');
    assert.deepEqual(logged.map((l) => [l.monitor, l.address, l.port, l.reason]), [
      ['tcp', '127.0.0.1', 8080, 'monitor error: boom'],
      ['tcp', '127.0.0.1', 8080, 'monitor error: later boom'],
      ['tcp', '127.0.0.1', 8080, 'monitor error: no result'],
    ]);
  });
});

describe('a monitor that never settles', () => {
  it('is given up on a grace after its timeout: a failed check, logged, and the next check runs', async () => {
    let runs = 0;
    let aborted = 0;
    const monitor: Monitor = {
      run: (_target, signal) => {
        runs++;
        signal.addEventListener('abort', () => aborted++);
        return runs === 1 ? new Promise<CheckResult>(() => {}) : Promise.resolve({ up: true, reason: 'fine' });
      },
    };
    const { sink, lines } = logSink();
    const checker = new Checker(tcpMonitor({ timeout: 20, rise: 1, fall: 1 }), { host: 'web1', ip: '127.0.0.1', port: 8080 }, monitor, createLogger('info', sink));
    const seen: string[] = [];
    const second = Promise.withResolvers<void>();
    checker.subscribe((c) => {
      seen.push(`${c.state}:${c.view.reason}`);
      if (seen.length === 2) second.resolve();
    });
    checker.start();
    await second.promise;
    checker.close();
    assert.deepEqual(seen, ['down:monitor did not stop within 1000 ms of its timeout', 'up:fine']);
    assert.equal(aborted, 1);
    assert.deepEqual(lines.filter((l) => l.msg === 'monitor error').map((l) => l.reason), ['monitor did not stop within 1000 ms of its timeout']);
  });
});

describe('members follow their monitors', () => {
  it('an http monitor whose request node refuses to build (a space in its path): the member is down with the error, checks go on', async () => {
    const a = await server('a');
    const http: HttpMonitor = {
      type: 'http', interval: 20, fastInterval: 10, timeout: 500, rise: 1, fall: 1, port: null,
      method: 'GET', path: '/health check', host: null, headers: {}, body: null, expectStatus: [[200, 399]],
      expectBody: null, maxBody: 65536, tls: { sni: null, verify: true, ca: null, cert: null, key: null },
    };
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }], {}, {
      health: { require: { kind: 'all' }, monitors: [http], agent: null, initialState: 'checking' },
    })));
    const checks = Promise.withResolvers<void>();
    let count = 0;
    app.health.events.on('check', () => {
      if (++count === 3) checks.resolve();
    });
    const down = await memberHealth(app, 'p', 'a', 'down');
    assert.equal(down.healthReason, 'http: monitor error: Request path contains unescaped characters');
    await checks.promise; // the schedule did not stop at the error
  });


  it('a member whose server stops goes down and gets no new connection; it comes back after rise', async () => {
    const a = await server('a');
    const b = await switchable('b');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }], {}, {
      health: { require: { kind: 'all' }, monitors: [tcpMonitor()], agent: null, initialState: 'checking' },
    })));
    const port = app.address('svc').port;
    await memberHealth(app, 'p', 'a', 'up');
    await memberHealth(app, 'p', 'b', 'up');
    await b.stop();
    const down = await memberHealth(app, 'p', 'b', 'down');
    assert.equal(down.healthReason, 'tcp: connection refused');
    assert.deepEqual(down.checks.map((c) => [c.type, c.state, c.reason]), [['tcp', 'down', 'connection refused']]);
    const lines = [];
    for (let i = 0; i < 4; i++) lines.push(await greeting(port));
    assert.deepEqual(lines, ['a', 'a', 'a', 'a']);
    await b.start();
    await memberHealth(app, 'p', 'b', 'up');
    const more = new Set<string>();
    for (let i = 0; i < 4; i++) more.add(await greeting(port));
    assert.deepEqual([...more].sort(), ['a', 'b']);
  });

  it('members start as checking: no traffic until a first pass; a service with none usable resets at once', async () => {
    const refused = refusedPort();
    const app = await startApp(single('tcp', pool('round-robin', [{ port: refused, id: 'x' }], {}, {
      health: { require: { kind: 'all' }, monitors: [tcpMonitor({ interval: 60_000 })], agent: null, initialState: 'checking' },
    })));
    assert.equal(app.runtime.member('p', 'x')!.health, 'checking');
    assert.equal((await exchange(app.address('svc').port)).ending, 'reset');
    await memberHealth(app, 'p', 'x', 'down');
  });

  it('combines monitors: all, any and at-least N', async () => {
    const a = await server('a');
    const open1 = await server('open1');
    const refused = refusedPort();
    const monitors = [tcpMonitor({ port: open1.port }), tcpMonitor({ port: refused }), tcpMonitor()];
    const config = (kind: 'all' | 'any' | 'at-least') => single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }], {}, {
      health: { require: kind === 'at-least' ? { kind, n: 2 } : { kind }, monitors, agent: null, initialState: 'checking' },
    }));
    const all = await startApp(config('all'));
    const m = await memberReaches(all, 'p', 'a', (x) => x.health !== 'checking');
    assert.equal(m.health, 'down');
    assert.match(m.healthReason, /tcp: connection refused/);
    const any = await startApp(config('any'));
    assert.equal((await memberReaches(any, 'p', 'a', (x) => x.health !== 'checking')).health, 'up');
    const atLeast = await startApp(config('at-least'));
    assert.equal((await memberReaches(atLeast, 'p', 'a', (x) => x.health !== 'checking')).health, 'up');
  });

  it('a reload keeps the health of members that did not change and checks the new ones', async () => {
    const a = await server('a');
    const b = await server('b');
    const healthConfig = { require: { kind: 'all' } as const, monitors: [tcpMonitor()], agent: null, initialState: 'checking' as const };
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }], {}, { health: healthConfig })));
    const memberA = await memberHealth(app, 'p', 'a', 'up');
    const changes: string[] = [];
    app.runtime.events.on('member', (m, c) => {
      if (m === memberA) changes.push(c.kind);
    });
    await app.reload(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }], {}, { health: healthConfig })));
    assert.equal(app.runtime.member('p', 'a'), memberA);
    assert.equal(memberA.health, 'up');
    assert.equal(app.runtime.member('p', 'b')!.health, 'checking');
    await memberHealth(app, 'p', 'b', 'up');
    assert.deepEqual(changes, []);
    // identical monitors on distinct addresses: one checker each
    assert.equal(app.health.checkers, 2);
  });

  it('a reload that changes one pool leaves the others\' watches; members it removes, alone or with their pool, are no longer checked', async () => {
    const a = await server('a');
    const b = await server('b');
    const c = await server('c');
    const healthConfig = { require: { kind: 'all' } as const, monitors: [tcpMonitor()], agent: null, initialState: 'checking' as const };
    const base = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }], {}, { health: healthConfig }));
    const other = single('tcp', pool('round-robin', [{ port: b.port, id: 'b' }, { port: c.port, id: 'c' }], {}, { health: healthConfig })).pools.p;
    const app = await startApp({ ...base, pools: { p: base.pools.p, q: other } });
    const memberA = await memberHealth(app, 'p', 'a', 'up');
    await memberHealth(app, 'q', 'c', 'up');
    assert.equal(app.health.checkers, 3);
    const changes: string[] = [];
    app.runtime.events.on('member', (m, change) => {
      if (m === memberA) changes.push(change.kind);
    });
    // q loses c: its checker closes; p, the same config read anew, is not touched
    await app.reload({ ...base, pools: { p: structuredClone(base.pools.p), q: { ...other, members: [other.members[0]] } } });
    assert.equal(app.health.checkers, 2);
    // q removed whole
    await app.reload({ ...base, pools: { p: structuredClone(base.pools.p) } });
    assert.equal(app.health.checkers, 1);
    assert.equal(app.runtime.member('p', 'a'), memberA);
    assert.equal(memberA.health, 'up');
    assert.deepEqual(changes, []);
  });

  it('identical monitors on the same address, used by two pools, run once', async () => {
    const a = await server('a');
    const monitorsConfig = { require: { kind: 'all' } as const, monitors: [tcpMonitor()], agent: null, initialState: 'checking' as const };
    const base = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }], {}, { health: monitorsConfig }));
    const app = await startApp({ ...base, pools: { p: base.pools.p, q: { ...base.pools.p } } });
    await memberHealth(app, 'p', 'a', 'up');
    await memberHealth(app, 'q', 'a', 'up');
    assert.equal(app.health.checkers, 1);
  });
});

describe('agent', () => {
  /** An agent on a member: answers every connection with the current word. */
  async function agentServer(): Promise<{ port: number; say(word: string): void }> {
    let word = 'ready up 100%';
    const s = await server('agent', (socket) => socket.end(`${word}\n`));
    return { port: s.port, say: (w) => (word = w) };
  }

  it('drain, weight percent, maxconn, down and ready change what the data plane does', async () => {
    const a = await server('a');
    const b = await server('b');
    const agent = await agentServer();
    const app = await startApp(single('tcp', pool('weighted-round-robin', [{ port: a.port, id: 'a', weight: 4 }, { port: b.port, id: 'b', weight: 4 }], {}, {
      health: { require: { kind: 'all' }, monitors: [], agent: { port: agent.port, interval: 20, timeout: 500, send: null }, initialState: 'checking' },
    })));
    const port = app.address('svc').port;
    // both members share one agent here; each member asks it on its own schedule
    await memberReaches(app, 'p', 'a', (m) => m.agent?.state === 'ready');
    const live = await greeted(port);

    agent.say('drain # rolling restart');
    await memberReaches(app, 'p', 'a', (m) => m.agent?.state === 'drain');
    const drained = await memberReaches(app, 'p', 'b', (m) => m.agent?.state === 'drain');
    assert.equal(drained.agent!.message, 'drain # rolling restart');
    // no member takes new connections: refused at once; the live one still flows
    assert.equal((await exchange(port)).ending, 'reset');
    live.socket.resume();
    assert.ok([...app.runtime.connections.list()].some((e) => e.client.port === live.socket.localPort && e.member !== null));

    agent.say('ready 50% maxconn:7');
    const half = await memberReaches(app, 'p', 'a', (m) => m.agent?.state === 'ready' && m.weight === 2);
    assert.equal(half.maxConnections, 7);
    assert.equal(half.configWeight, 4);
    assert.equal(await greeting(port).then((l) => ['a', 'b'].includes(l)), true);

    agent.say('down');
    await memberReaches(app, 'p', 'a', (m) => m.agent?.state === 'down');
    assert.equal(app.runtime.member('p', 'a')!.usable, false);
    live.socket.destroy();
  });

  it('a fault applying a reply escapes nothing and the agent keeps being asked', async () => {
    const a = await server('a');
    const agent = await agentServer();
    agent.say('drain');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }], {}, {
      health: { require: { kind: 'all' }, monitors: [], agent: { port: agent.port, interval: 20, timeout: 500, send: null }, initialState: 'checking' },
    })));
    const member = app.runtime.member('p', 'a')!;
    await memberReaches(app, 'p', 'a', (m) => m.agent?.state === 'drain');
    // a bug where a reply is applied, once (it would escape the agent socket's callback)
    const setAgent = member.setAgent;
    member.setAgent = () => {
      member.setAgent = setAgent;
      throw new Error('injected failure');
    };
    agent.say('ready');
    await memberReaches(app, 'p', 'a', (m) => m.agent?.state === 'ready');
  });

  it('an agent that cannot be reached changes nothing but its message', async () => {
    const a = await server('a');
    const app = await startApp(single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }], {}, {
      health: { require: { kind: 'all' }, monitors: [], agent: { port: await freePort(), interval: 20, timeout: 500, send: null }, initialState: 'checking' },
    })));
    const m = await memberReaches(app, 'p', 'a', (x) => x.agent !== null);
    assert.equal(m.agent!.message, 'agent unreachable: connection refused');
    assert.equal(m.usable, true);
    assert.equal(await greeting(app.address('svc').port), 'a');
  });
});

describe('slow start', () => {
  it('ramps the weight of a member that comes back up, and least-connections avoids it meanwhile', async () => {
    const a = await server('a');
    const b = await switchable('b');
    const app = await startApp(single('tcp', pool('least-connections', [{ port: a.port, id: 'a', weight: 10 }, { port: b.port, id: 'b', weight: 10 }], {}, {
      health: { require: { kind: 'all' }, monitors: [tcpMonitor({ rise: 1, fall: 1 })], agent: null, initialState: 'checking' },
      slowStart: 60_000,
    })));
    const port = app.address('svc').port;
    await memberHealth(app, 'p', 'b', 'up');
    // at start-up there is no slow start: b was never down
    assert.equal(app.runtime.member('p', 'b')!.ramp, 1);
    await b.stop();
    await memberHealth(app, 'p', 'b', 'down');
    await b.start();
    const back = await memberHealth(app, 'p', 'b', 'up');
    assert.ok(back.ramp < 0.1, `ramp ${back.ramp}`);
    assert.ok(back.weight < 1, `weight ${back.weight}`);
    // least-connections: b counts as ~20 connections busy, so a takes the next ones
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await greeted(port));
    assert.deepEqual(held.map((h) => h.line), ['a', 'a', 'a', 'a', 'a']);
    for (const h of held) h.socket.destroy();
  });

  /** An app over members a and b, weight 10 each, in which b has just gone down. */
  async function withBDown(algorithm: AlgorithmName, slowStart: number) {
    const a = await server('a');
    const b = await switchable('b');
    const app = await startApp(single('tcp', pool(algorithm, [{ port: a.port, id: 'a', weight: 10 }, { port: b.port, id: 'b', weight: 10 }], {}, {
      health: { require: { kind: 'all' }, monitors: [tcpMonitor({ rise: 1, fall: 1 })], agent: null, initialState: 'checking' },
      slowStart,
    })));
    await memberHealth(app, 'p', 'b', 'up');
    await b.stop();
    await memberHealth(app, 'p', 'b', 'down');
    return { app, b };
  }

  it('reaches the full weight at the end of the ramp', async () => {
    const { app, b } = await withBDown('weighted-round-robin', 300);
    const weights: number[] = [];
    app.runtime.events.on('member', (m, c) => {
      if (m.id === 'b' && c.kind === 'weight') weights.push(c.to);
    });
    await b.start();
    await memberReaches(app, 'p', 'b', (m) => m.health === 'up' && m.weight === 10);
    assert.ok(weights.length >= 3, `ramp steps: ${weights.join(' ')}`);
    for (let i = 1; i < weights.length; i++) assert.ok(weights[i] >= weights[i - 1], `ramp only rises: ${weights.join(' ')}`);
    assert.equal(weights.at(-1), 10);
  });

  it('is skipped by a hashing algorithm: its table would move keys while the weight ramps', async () => {
    const { app, b } = await withBDown('maglev', 60_000);
    await b.start();
    const back = await memberHealth(app, 'p', 'b', 'up');
    assert.equal(back.ramp, 1);
    assert.equal(back.weight, 10);
  });
});

describe('monitors that cannot run here', () => {
  it('refuse the start, naming the pool, the member and what is missing', async () => {
    const a = await server('a');
    const https = {
      type: 'https' as const, interval: 1000, fastInterval: 250, timeout: 500, rise: 2, fall: 3, port: null,
      method: 'GET' as const, path: '/', host: null, headers: {}, body: null, expectStatus: [[200, 399]] as [number, number][],
      expectBody: null, maxBody: 65536, tls: { sni: null, verify: true, ca: '/nonexistent/ca.pem', cert: null, key: null },
    };
    const config = single('tcp', pool('round-robin', [{ port: a.port, id: 'a' }], {}, {
      health: { require: { kind: 'all' }, monitors: [https], agent: null, initialState: 'checking' },
    }));
    await assert.rejects(
      Furiwake.start(config, createLogger('silent')),
      /pool p member a: monitor cannot run: .*\/nonexistent\/ca\.pem/,
    );
  });
});

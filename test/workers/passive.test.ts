// Passive health with global.workers 2: the workers report their members' failures of real
// traffic, the main thread decides once (ejection, its time) and every worker follows. Real
// servers and clients on loopback; the reporter and the counting side also on their own, in
// one thread, for the order of failures and successes (passive-relay.ts).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { Furiwake } from '../../src/app.ts';
import type { Config, PassiveHealthConfig } from '../../src/config/types.ts';
import { createLogger } from '../../src/log.ts';
import type { Member } from '../../src/runtime/member.ts';
import type { PassiveFailure } from '../../src/runtime/passive-health.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { applyMirror, mirrorOf } from '../../src/workers/messages.ts';
import { PassiveIntake } from '../../src/workers/passive-intake.ts';
import { PassiveRelay, RelayedPassive } from '../../src/workers/passive-relay.ts';
import { adminConfig, call } from '../admin/helpers.ts';
import { memberReaches } from '../helpers/app.ts';
import { greeted, greeting } from '../helpers/clients.ts';
import { pool, single } from '../helpers/config.ts';
import { Fuzzer, fuzzCount } from '../helpers/fuzz.ts';
import { refusedPort } from '../helpers/ports.ts';
import { listenOnLoopback, startTcpServer } from '../helpers/servers.ts';
import { connection, httpConfig, startMember } from '../proxy/http/helpers.ts';

function passive(extra: Partial<PassiveHealthConfig> = {}): PassiveHealthConfig {
  return { failures: 3, ejection: 60_000, maxEjection: 300_000, maxEjectedPercent: 50, ...extra };
}

async function startWorkers(config: Config): Promise<{ app: Furiwake; base: string }> {
  const app = await Furiwake.start({ ...config, global: { ...config.global, workers: 2 }, admin: adminConfig() }, createLogger('silent'));
  after(() => app.stop(0));
  return { app, base: `http://127.0.0.1:${app.admin.address()!.port}` };
}

/** What each worker gave `member` of pool p so far (connections; http: requests). */
async function servedBy(app: Furiwake, member: string): Promise<number[]> {
  return (await app.workers!.stats()).map((s) => s.served[`p/${member}`] ?? 0);
}

const GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
type Conn = Awaited<ReturnType<typeof connection>>;

describe('passive health with workers: 2', () => {
  it('counts an http member\'s 5xx answers from both workers in the main thread, which ejects it once for every worker, and lets it back on every worker', { timeout: 20_000 }, async () => {
    const ok = await startMember('ok');
    const bad = await startMember('bad', (_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    // ejected for 3 s: long enough for the checks while it is out, on a busy machine too
    const p = pool('round-robin', [{ port: ok.port, id: 'ok' }, { port: bad.port, id: 'bad' }], {}, { passiveHealth: passive({ ejection: 3_000 }) });
    const { app, base } = await startWorkers(httpConfig(p));
    const port = app.address('svc').port;
    const member = app.runtime.member('p', 'bad')!;

    // one keep-alive connection on each worker: while bad is disabled, each request shows its worker
    member.setAdmin('disabled');
    await app.workers!.stats();
    const byWorker: (Conn | null)[] = [null, null];
    const spare: Conn[] = [];
    for (let i = 0; i < 40 && byWorker.includes(null); i++) {
      const conn = await connection(port);
      const before = await servedBy(app, 'ok');
      assert.match(await conn.send(GET), /^HTTP\/1.1 200/);
      const index = (await servedBy(app, 'ok')).findIndex((n, w) => n > before[w]);
      if (byWorker[index] === null) byWorker[index] = conn;
      else spare.push(conn);
    }
    for (const c of spare) await c.close();
    const [w0, w1] = byWorker as Conn[];
    assert.ok(w0 !== undefined && w1 !== undefined, 'a connection reached each worker');
    member.setAdmin('enabled');
    await app.workers!.stats();

    // round-robin in each worker: two requests give bad one. 2 failures on one worker, 1 on the
    // other: no worker alone reaches 3, the main thread counts 3 in a row
    const statuses: string[] = [];
    for (const conn of [w0, w1, w0]) {
      for (let i = 0; i < 2; i++) statuses.push((await conn.send(GET)).slice(9, 12));
    }
    assert.deepEqual(statuses.filter((s) => s === '503').length, 3);
    await memberReaches(app, 'p', 'bad', (m) => m.passive.ejected);
    assert.equal(bad.requests.length, 3);
    assert.deepEqual(await servedBy(app, 'bad'), [2, 1]);
    const view = (await call(base, '/api/v1/pools/p/members/bad')).body;
    assert.equal(view.status, 'ejected');
    assert.equal(view.passive.ejections, 1);
    assert.equal(view.passive.reason, 'ejected: 3 consecutive 5xx answers');

    // every worker has the ejection once it answers (its messages are handled in order)
    await app.workers!.stats();
    for (const conn of [w0, w1]) {
      for (let i = 0; i < 6; i++) assert.match(await conn.send(GET), /^HTTP\/1.1 200/);
    }
    for (let i = 0; i < 10; i++) {
      const conn = await connection(port);
      assert.match(await conn.send(GET), /^HTTP\/1.1 200/);
      await conn.close();
    }
    assert.equal(bad.requests.length, 3, 'no worker sent the ejected member anything');
    assert.deepEqual(await servedBy(app, 'bad'), [2, 1]);
    assert.equal(member.passive.ejections, 1);

    // the ejection time is over in the main thread: back on every worker
    await memberReaches(app, 'p', 'bad', (m) => !m.passive.ejected);
    await app.workers!.stats();
    for (const conn of [w0, w1]) {
      for (let i = 0; i < 2; i++) await conn.send(GET);
    }
    assert.equal(bad.requests.length, 5);
    assert.deepEqual(await servedBy(app, 'bad'), [3, 2]);
    assert.equal(member.passive.ejected, false, 'two failures since its return: under the threshold');
    assert.equal(member.passive.failures, 2);
    await w0.close();
    await w1.close();
  });

  it('ejects a tcp member that refuses connections once, in the main thread; then no worker tries it', { timeout: 20_000 }, async () => {
    const a = await startTcpServer('a');
    const dead = refusedPort();
    const p = pool('round-robin', [{ port: a.port, id: 'a' }, { port: dead, id: 'dead' }], {}, { passiveHealth: passive() });
    const { app, base } = await startWorkers(single('tcp', p));
    const port = app.address('svc').port;
    const member = app.runtime.member('p', 'dead')!;
    // each connection that tries dead is retried on a: no client sees the failure
    for (let i = 0; i < 30 && !member.passive.ejected; i++) assert.equal(await greeting(port), 'a');
    await memberReaches(app, 'p', 'dead', (m) => m.passive.ejected);
    const view = (await call(base, '/api/v1/pools/p/members/dead')).body;
    assert.equal(view.status, 'ejected');
    assert.equal(view.passive.ejections, 1);
    assert.equal(view.passive.reason, 'ejected: 3 consecutive connect failures');
    await app.workers!.stats();
    const triedBy = await servedBy(app, 'dead');
    const tried = triedBy[0] + triedBy[1];
    const lines = await Promise.all(Array.from({ length: 40 }, () => greeting(port)));
    assert.deepEqual(new Set(lines), new Set(['a']));
    assert.equal((await servedBy(app, 'dead')).reduce((x, y) => x + y, 0), tried, 'no worker tried the ejected member');
    assert.ok((await servedBy(app, 'a')).every((n) => n > 0), 'both workers served');
    assert.equal(member.passive.ejections, 1);

    // a worker that replaces a dead one starts with the member ejected; so does every worker after a reload
    const replaced = once(app.workers!, 'replaced');
    await app.workers!.thread(0).terminate();
    await replaced;
    assert.deepEqual(await app.reload({ ...app.runtime.config!, pools: { p: { ...p, slowStart: 1_000 } } }), []);
    const after = await Promise.all(Array.from({ length: 40 }, () => greeting(port)));
    assert.deepEqual(new Set(after), new Set(['a']));
    assert.deepEqual(await servedBy(app, 'dead'), [0, triedBy[1]], 'neither the new worker nor the other tried it');
    assert.ok((await servedBy(app, 'a')).every((n) => n > 0), 'both workers served');
    assert.equal(member.passive.ejected, true);
  });

  it('the worker holding a live connection to the member the main thread ejects closes it (on-member-down: close)', { timeout: 20_000 }, async () => {
    const a = await startTcpServer('a');
    // f serves its first connection, then stops listening: the next connects to it are refused
    const f = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.write('f\n');
      f.close();
    });
    const fPort = await listenOnLoopback(f);
    const p = pool('round-robin', [{ port: a.port, id: 'a' }, { port: fPort, id: 'f' }], {}, { passiveHealth: passive(), onMemberDown: 'close' });
    const { app } = await startWorkers(single('tcp', p));
    const port = app.address('svc').port;
    const first = app.runtime.member('p', 'a')!;
    first.setAdmin('disabled');
    await app.workers!.stats();
    const live = await greeted(port);
    assert.equal(live.line, 'f');
    // close: the client's connection is reset
    const closed = new Promise<string>((resolve) => {
      let code = 'end';
      live.socket.on('error', (err: NodeJS.ErrnoException) => (code = err.code ?? 'error'));
      live.socket.on('close', () => resolve(code));
    });
    first.setAdmin('enabled');
    await app.workers!.stats();
    const member = app.runtime.member('p', 'f')!;
    for (let i = 0; i < 30 && !member.passive.ejected; i++) assert.equal(await greeting(port), 'a');
    await memberReaches(app, 'p', 'f', (m) => m.passive.ejected);
    // whichever worker holds it heard of the ejection as of a member going down
    assert.equal(await closed, 'ECONNRESET');
    assert.equal(member.passive.ejections, 1);
  });
});

/** A main thread's runtime and two workers' runtimes of one config, their reports counted in this thread. */
function relayed(): { main: Member; workers: [Member, Member]; sent: number[]; post(): Promise<void>; count(): void; flush(): Promise<void> } {
  const config = single('tcp', pool('round-robin', [{ port: 1, id: 'a' }, { port: 2, id: 'b' }], {}, { passiveHealth: passive() }));
  const main = new Runtime();
  main.apply(config);
  const intake = new PassiveIntake();
  const mainPool = main.pools.get('p')!;
  intake.place([], [[main.member('p', 'a')!, mainPool, 0], [main.member('p', 'b')!, mainPool, 1]]);
  const sent: number[] = [];
  const pending: number[][] = [];
  const workers = [0, 1].map(() => {
    const runtime = new Runtime();
    runtime.apply(config);
    const relay = new PassiveRelay(intake.buffer, (reports) => {
      sent.push(reports.length / 2);
      pending.push(reports);
    });
    const p = runtime.pools.get('p')!;
    relay.attach(p.member('a')!, p, 0);
    relay.attach(p.member('b')!, p, 1);
    return p.member('a')!;
  }) as [Member, Member];
  for (const m of [main.member('p', 'a')!, ...workers]) m.setHealth('up');
  // each worker's batch goes out at the end of its loop turn; here both in this thread's next turn
  const post = (): Promise<void> => turn();
  // the main thread counts the batches posted so far
  const count = (): void => {
    for (const reports of pending.splice(0)) intake.take(reports);
  };
  const flush = async (): Promise<void> => {
    await post();
    count();
  };
  return { main: main.member('p', 'a')!, workers, sent, post, count, flush };
}

describe('passive relay and intake', () => {
  it('sends nothing for the successes of a healthy member', async () => {
    const { workers, sent, flush } = relayed();
    assert.ok(workers[0].passive instanceof RelayedPassive);
    for (let i = 0; i < 100; i++) for (const w of workers) w.passive.success();
    await flush();
    assert.deepEqual(sent, []);
  });

  it('batches a worker\'s reports of one loop turn into one message, in order', async () => {
    const { main, workers, sent, flush } = relayed();
    workers[0].passive.failure('connect');
    workers[0].passive.failure('connect');
    workers[0].passive.success();
    workers[0].passive.failure('reset');
    await flush();
    assert.deepEqual(sent, [4]);
    // failure, failure, success, failure: one in a row
    assert.equal(main.passive.failures, 1);
    assert.equal(main.passive.ejected, false);
  });

  it('counts failures from both workers as one run; a success on the other worker ends it once counted', async () => {
    const { main, workers, sent, flush } = relayed();
    workers[0].passive.failure('connect');
    await flush();
    workers[1].passive.failure('connect');
    await flush();
    assert.equal(main.passive.failures, 2);
    // worker 0 reported no failure since: the main thread's open run makes it report its success
    workers[1].passive.success();
    await flush();
    workers[0].passive.success();
    await flush();
    assert.equal(main.passive.failures, 0);
    workers[0].passive.failure('connect');
    await flush();
    workers[1].passive.success();
    await flush();
    workers[0].passive.failure('connect');
    workers[1].passive.failure('connect');
    await flush();
    assert.equal(main.passive.failures, 2, 'the success between ended the first run');
    assert.equal(main.passive.ejected, false);
    // once the run is over, successes are silent again
    for (const w of workers) w.passive.success();
    await flush();
    assert.equal(main.passive.failures, 0);
    const reported = sent.length;
    for (let i = 0; i < 10; i++) for (const w of workers) w.passive.success();
    await flush();
    assert.equal(sent.length, reported);
  });

  it('a run opened by the main thread\'s own traffic (udp, nat) is ended by a worker\'s success', async () => {
    const { main, workers, sent, flush } = relayed();
    main.passive.failure('unreachable');
    main.passive.failure('unreachable');
    workers[1].passive.success();
    await flush();
    assert.deepEqual(sent, [1]);
    assert.equal(main.passive.failures, 0);
    workers[0].passive.success();
    await flush();
    assert.deepEqual(sent, [1], 'the run is over: nothing more to report');
  });

  it('ejects once in the main thread at the threshold; the mirrored state makes every worker follow', async () => {
    const { main, workers, sent, flush } = relayed();
    workers[0].passive.failure('http-5xx');
    workers[1].passive.failure('http-5xx');
    workers[0].passive.failure('http-5xx');
    await flush();
    assert.equal(main.passive.ejected, true);
    assert.equal(main.passive.ejections, 1);
    assert.equal(main.available, false);
    for (const w of workers) {
      assert.equal(w.available, true, 'a worker does not decide');
      applyMirror(w, mirrorOf(main));
      assert.equal(w.available, false);
      assert.equal(w.servesExisting, false);
      assert.equal(w.passive.ejected, true);
    }
    // an ejected member's traffic still in progress reports nothing more
    const before = sent.length;
    workers[1].passive.failure('http-5xx');
    await flush();
    assert.equal(sent.length, before);
  });

  it('counts as one loop would: one worker, or two whose reports are counted between events (random sequences)', async () => {
    const kinds: PassiveFailure[] = ['connect', 'reset', 'http-5xx', 'response-timeout'];
    const f = new Fuzzer(14);
    const sequences = fuzzCount(1000);
    for (let n = 0; n < sequences; n++) {
      const { main, workers, post, count, flush } = relayed();
      // the one loop: the same events on one member, in the order they happened
      const reference = new Runtime();
      reference.apply(single('tcp', pool('round-robin', [{ port: 1, id: 'a' }, { port: 2, id: 'b' }], {}, { passiveHealth: passive() })));
      const one = reference.member('p', 'a')!;
      const both = f.int(2) === 1;
      const events: string[] = [];
      for (let i = 0, length = 1 + f.int(24); i < length; i++) {
        const worker = both ? workers[f.int(2)] : workers[0];
        if (f.int(2) === 0) {
          const kind = f.pick(kinds);
          worker.passive.failure(kind);
          one.passive.failure(kind);
          events.push(kind);
        } else {
          worker.passive.success();
          one.passive.success();
          events.push('ok');
        }
        // two workers: counted before the next event. One: posted and counted whenever, so the
        // main thread may count a batch while the worker has new events it has not posted yet
        if (both) await flush();
        else if (f.int(3) === 0) await post();
        else if (f.int(2) === 0) count();
      }
      await flush();
      const what = `sequence ${n} (${both ? 'two workers' : 'one worker'}): ${events.join(' ')}`;
      assert.equal(main.passive.failures, one.passive.failures, what);
      assert.equal(main.passive.ejected, one.passive.ejected, what);
      assert.equal(main.passive.reason, one.passive.reason, what);
      main.passive.dispose();
      one.passive.dispose();
    }
  });
});

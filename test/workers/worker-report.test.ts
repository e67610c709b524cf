// A worker's reports carry what its counters grew by since the last one, and the main thread adds
// them: two runtimes stand for a worker and the main thread (no threads needed for the arithmetic).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pool, single } from '../helpers/config.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { addReport, Reporter } from '../../src/workers/worker-report.ts';

function runtimeOf(members: string[]): Runtime {
  const runtime = new Runtime();
  runtime.apply(single('http', pool('round-robin', members.map((id, i) => ({ port: 1000 + i, id })))));
  return runtime;
}

describe('worker reports', () => {
  it('carry the growth since the last report, which the main thread adds to its own counters', () => {
    const worker = runtimeOf(['a', 'b']);
    const main = runtimeOf(['a', 'b']);
    const reporter = new Reporter(worker);
    const a = worker.member('p', 'a')!;
    a.total += 5;
    a.failed += 1;
    a.bytesIn += 100;
    a.bytesOut += 2_000;
    worker.requests.count('svc', a, 200);
    worker.requests.count('svc', null, 503);
    worker.pools.get('p')!.queueTimeouts += 2;
    worker.resources.clientCapRefused += 3;
    addReport(main, reporter.report());
    const ma = main.member('p', 'a')!;
    assert.deepEqual([ma.total, ma.failed, ma.bytesIn, ma.bytesOut], [5, 1, 100, 2_000]);
    assert.equal(main.pools.get('p')!.queueTimeouts, 2);
    assert.equal(main.resources.clientCapRefused, 3);
    assert.deepEqual([...main.requests.list()].map((c) => ({ ...c })), [
      { service: 'svc', pool: 'p', member: 'a', status: '2xx', protocol: 'HTTP/1.1', memberProtocol: 'http1', count: 1 },
      { service: 'svc', pool: null, member: null, status: '5xx', protocol: 'HTTP/1.1', memberProtocol: '', count: 1 },
    ]);

    // nothing new: a report adds nothing; more: only the growth is added
    addReport(main, reporter.report());
    assert.equal(ma.total, 5);
    a.total += 2;
    worker.requests.count('svc', a, 204);
    addReport(main, reporter.report());
    assert.equal(ma.total, 7);
    assert.equal(main.requests.ofMember(ma), 2);
    assert.equal(main.member('p', 'b')!.total, 0);
  });

  it('a member a reload made anew, or one the main thread no longer has, is counted from then on or dropped', () => {
    const worker = runtimeOf(['a']);
    const main = runtimeOf(['a', 'b']);
    const reporter = new Reporter(worker);
    worker.member('p', 'a')!.total = 4;
    addReport(main, reporter.report());
    // the worker's reload takes a out and brings it back: a new object, counting from 0
    worker.apply(single('http', pool('round-robin', [{ port: 1001, id: 'b' }])));
    worker.apply(single('http', pool('round-robin', [{ port: 1000, id: 'a' }, { port: 1001, id: 'b' }])));
    worker.member('p', 'a')!.total = 1;
    worker.member('p', 'b')!.total = 6;
    // the main thread no longer has b
    main.apply(single('http', pool('round-robin', [{ port: 1000, id: 'a' }])));
    addReport(main, reporter.report());
    assert.equal(main.member('p', 'a')!.total, 5);
    assert.equal(main.member('p', 'b'), undefined);
  });

  it("tells the live connections' figures and the table's size as they are now", () => {
    const worker = runtimeOf(['a']);
    const report = new Reporter(worker).report();
    assert.equal(report.connections, 0);
    assert.deepEqual(report.members.map((m) => [m.id, m.liveIn, m.liveOut, m.latency]), [['a', 0, 0, 0]]);
  });
});

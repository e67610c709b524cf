// The file descriptor budget: the limit read from /proc, the reserve a config keeps, the share
// udp flows get, and `validate` saying when it clips a service's max-flows.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ADMIN_RESERVE, BASE_RESERVE, clippedFlows, effectiveMaxFlows, fdBudget, parseFileLimit, readFileLimit, WORKER_RESERVE } from '../../src/runtime/fd-budget.ts';
import { pool, service } from '../helpers/config.ts';
import type { Config } from '../../src/config/types.ts';
import { createLogger } from '../../src/log.ts';
import { acceptFailed } from '../../src/proxy/listener.ts';
import { outOfDescriptors, ResourceCounts } from '../../src/runtime/resources.ts';
import { logSink } from '../helpers/app.ts';
import { tempDir } from '../helpers/files.ts';

const BIN = fileURLToPath(new URL('../../bin/furiwake.js', import.meta.url));

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

function config(modes: ('udp' | 'tcp' | 'http')[], extra: Partial<Config> = {}): Config {
  return {
    global: { shutdownGrace: 0, logLevel: 'silent' },
    services: Object.fromEntries(modes.map((m, i) => [`s${i}`, service(m, 'p')])),
    pools: { p: pool('round-robin', [{ port: 1 }, { port: 2 }]) },
    ...extra,
  };
}

describe('file descriptor budget', () => {
  it('reads the limits of the process', () => {
    assert.deepEqual(parseFileLimit(LIMITS), { soft: 1024, hard: 524288 });
    assert.deepEqual(parseFileLimit(LIMITS.replace('1024                 524288', 'unlimited            unlimited')), { soft: Infinity, hard: Infinity });
    assert.equal(parseFileLimit('nothing here'), null);
    const own = readFileLimit();
    assert.ok(own !== null && own.soft >= 1 && own.soft <= own.hard);
  });

  it('keeps a reserve and gives udp flows half of the rest beside tcp and http services', () => {
    const budget = fdBudget(1024, config(['udp', 'tcp', 'http']));
    assert.equal(budget.reserve, BASE_RESERVE + 3);
    const available = 1024 - budget.reserve;
    assert.equal(budget.flowsPerUdpService, Math.floor(available / 2));
    assert.equal(budget.connections, Math.floor((available - budget.flowsPerUdpService) / 2));
    // the default max-flows (65,536) is above it: clipped, and said so
    assert.equal(effectiveMaxFlows(65_536, budget), budget.flowsPerUdpService);
    assert.equal(effectiveMaxFlows(10, budget), 10);
    const lines = clippedFlows(config(['udp', 'tcp', 'http']), budget);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^service s0: max-flows 65536 is more than the file descriptor budget allows; at most \d+ flows \(limit 1024 descriptors, \d+ reserved\)$/);
  });

  it('reserves for the admin plane and each health check', () => {
    const c = config(['udp'], { admin: { listen: { host: '127.0.0.1', port: 0, ip: '127.0.0.1' } } as Config['admin'] });
    c.pools.p.health.monitors = [{ type: 'tcp' } as never, { type: 'tcp' } as never];
    const budget = fdBudget(1024, c);
    assert.equal(budget.reserve, BASE_RESERVE + 1 + ADMIN_RESERVE + 2 * 2);
    // udp alone: all of the rest, split among the udp services
    assert.equal(budget.flowsPerUdpService, 1024 - budget.reserve);
    assert.equal(fdBudget(1024, config(['udp', 'udp'])).flowsPerUdpService, Math.floor((1024 - BASE_RESERVE - 2) / 2));
  });

  it('reserves for each worker thread: its own loop and its own listener of every service it serves', () => {
    const c = config(['udp', 'tcp', 'http']);
    const one = fdBudget(4096, c, 1);
    assert.equal(one.reserve, BASE_RESERVE + 3);
    const sixteen = fdBudget(4096, c, 16);
    assert.equal(sixteen.reserve, BASE_RESERVE + 3 + 16 * (WORKER_RESERVE + 3));
    assert.ok(sixteen.connections < one.connections);
  });

  it('derives no bound from an unlimited limit', () => {
    const budget = fdBudget(Infinity, config(['udp']));
    assert.equal(effectiveMaxFlows(65_536, budget), 65_536);
    assert.deepEqual(clippedFlows(config(['udp']), budget), []);
  });

  it('validate warns when the budget clips max-flows', async () => {
    const dir = await tempDir('budget');
    const file = join(dir, 'udp.yaml');
    writeFileSync(file, 'services:\n  dns: { listen: 127.0.0.1:5353, mode: udp, pool: dns }\npools:\n  dns: { members: [ { address: 127.0.0.1:53 } ] }\n');
    const run = spawnSync('prlimit', ['--nofile=512:512', process.execPath, BIN, 'validate', '-c', file], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /warning: service dns: max-flows 65536 is more than the file descriptor budget allows; at most \d+ flows \(limit 512 descriptors/);
  });
});

describe('resource counts', () => {
  it('counts every exhausted descriptor but logs once per interval per service', () => {
    const { sink, lines } = logSink();
    const log = createLogger('info', sink);
    const counts = new ResourceCounts();
    const emfile = Object.assign(new Error('accept EMFILE: 127.0.0.1:80'), { code: 'EMFILE' });
    assert.ok(outOfDescriptors(emfile));
    assert.ok(outOfDescriptors(new Error('accept ENFILE: 127.0.0.1:80')));
    assert.ok(!outOfDescriptors(Object.assign(new Error('x'), { code: 'ECONNRESET' })));
    for (let i = 0; i < 1000; i++) acceptFailed(log, counts, 'web', emfile);
    acceptFailed(log, counts, 'dns', emfile);
    assert.equal(counts.descriptorsExhausted, 1001);
    return new Promise<void>((resolve) => setImmediate(() => {
      const logged = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('out of file descriptors'));
      assert.deepEqual(logged.map((l) => [l.service, l.where, l.code]), [['web', 'accept', 'EMFILE'], ['dns', 'accept', 'EMFILE']]);
      // the line says where the manual explains the budget
      assert.match(String(logged[0].msg), /"File descriptors: the budget" in docs\/connections\.md/);
      resolve();
    }));
  });

  it('has room for a connection only while client, member and idle member descriptors fit', () => {
    const counts = new ResourceCounts();
    counts.maxConnections = 10;
    assert.ok(counts.roomFor(9));
    assert.ok(!counts.roomFor(10));
    // udp flows in the table are budgeted apart
    counts.udpFlows = 5;
    assert.ok(counts.roomFor(14));
    // idle keep-alive member connections hold a descriptor each: two of them take one connection's room
    counts.idleMemberConnections = 2;
    assert.ok(!counts.roomFor(14));
    assert.ok(counts.roomFor(13));
    // so do HTTP/2 sessions to h2 and h2c members, whatever they carry
    counts.idleMemberConnections = 0;
    counts.h2MemberSessions = 2;
    assert.ok(!counts.roomFor(14));
    assert.ok(counts.roomFor(13));
    // a client connection of an HTTP/2 pool holds its own descriptor only: two of them free one connection's room
    counts.clientOnlyConnections = 2;
    assert.ok(counts.roomFor(14));
    assert.ok(!counts.roomFor(15));
    // the member connections such clients' requests hold (an HTTP/2 client's streams: one each) count one each
    counts.clientOnlyMemberConnections = 2;
    assert.ok(!counts.roomFor(14));
    assert.ok(counts.roomFor(13));
  });
});

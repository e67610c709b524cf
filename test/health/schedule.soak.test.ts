// Soak: 500 members checked every 200 ms for 60 s stay up, every one is checked again and again,
// and stopping leaves no socket or timer behind. How closely the schedule is kept is a timing
// figure: bench/health-schedule.ts measures it (a loaded machine must not fail a test).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Furiwake } from '../../src/app.ts';
import type { TcpMonitor } from '../../src/config/health-types.ts';
import { createLogger } from '../../src/log.ts';
import { pool, single } from '../helpers/config.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { openHandles } from '../helpers/handles.ts';

const MEMBERS = 500;
const INTERVAL = 200;
const DURATION = 60_000;
/** a member the schedule dropped would be checked only a few times (rise is 2) */
const ROUNDS = 10;

describe('soak', () => {
  it(`${MEMBERS} members checked every ${INTERVAL} ms for ${DURATION / 1000} s stay up and leave nothing open`, { timeout: DURATION + 60_000 }, async (t) => {
    const before = await openHandles();
    const servers = await Promise.all(Array.from({ length: MEMBERS }, (_, i) => startTcpServer(`s${i}`, (socket) => socket.end())));
    const monitor: TcpMonitor = { type: 'tcp', interval: INTERVAL, fastInterval: INTERVAL, timeout: 1_000, rise: 2, fall: 3, port: null, send: null, expect: null };
    const config = single('tcp', pool('least-connections', servers.map((s, i) => ({ port: s.port, id: `m${i}` })), {}, {
      health: { require: { kind: 'all' }, monitors: [monitor], agent: null, initialState: 'checking' },
    }));
    const app = await Furiwake.start(config, createLogger('silent'));
    // stopped whatever the assertions say: a failure must not leave 500 servers and their checks running
    try {
      // the soak is the waiting itself: let the schedule run for its whole duration
      await delay(DURATION);
      const members = app.runtime.pools.get('p')!.members;
      const counts = servers.map((s) => s.accepted);
      t.diagnostic(`checks per member: ${Math.min(...counts)}..${Math.max(...counts)}; cpu ${JSON.stringify(process.cpuUsage())}`);
      // not timing: a member left out of the schedule would have at most the first few checks
      assert.ok(counts.every((n) => n > ROUNDS), `every member checked more than ${ROUNDS} times: ${Math.min(...counts)}`);
      assert.ok(members.every((m) => m.health === 'up'), 'every member up');
    } finally {
      await app.stop(0);
      await Promise.all(servers.map((s) => s.close()));
    }
    assert.deepEqual(await openHandles(), before);
  });
});

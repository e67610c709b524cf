// The health-check schedule under load: N members each checked every INTERVAL ms for SECONDS s,
// and how close each member's number of checks comes to what the schedule promises (the ratio
// fewest/expected and most/expected), with the CPU the process used. A timing figure, so it
// lives here and not in a test (test/health/schedule.soak.test.ts checks what is not timing:
// every member up, nothing left open). Run: npx node bench/health-schedule.ts [members] [interval ms] [seconds]

import { setTimeout as delay } from 'node:timers/promises';
import { Furiwake } from '../src/app.ts';
import type { TcpMonitor } from '../src/config/health-types.ts';
import { createLogger } from '../src/log.ts';
import { pool, single } from '../test/helpers/config.ts';
import { startTcpServer } from '../test/helpers/servers.ts';

const MEMBERS = Number(process.argv[2] ?? 500);
const INTERVAL = Number(process.argv[3] ?? 200);
const SECONDS = Number(process.argv[4] ?? 60);

const servers = await Promise.all(Array.from({ length: MEMBERS }, (_, i) => startTcpServer(`s${i}`, (socket) => socket.end())));
const monitor: TcpMonitor = { type: 'tcp', interval: INTERVAL, fastInterval: INTERVAL, timeout: 1_000, rise: 2, fall: 3, port: null, send: null, expect: null };
const config = single('tcp', pool('least-connections', servers.map((s, i) => ({ port: s.port, id: `m${i}` })), {}, {
  health: { require: { kind: 'all' }, monitors: [monitor], agent: null, initialState: 'checking' },
}));
const app = await Furiwake.start(config, createLogger('silent'));
const cpu = process.cpuUsage();
const started = performance.now();
await delay(SECONDS * 1000);
const elapsed = performance.now() - started;
const used = process.cpuUsage(cpu);
const counts = servers.map((s) => s.accepted);
await app.stop(0);
await Promise.all(servers.map((s) => s.close()));

const expected = elapsed / INTERVAL;
const min = Math.min(...counts);
const max = Math.max(...counts);
const checks = counts.reduce((a, b) => a + b, 0);
console.log(`${MEMBERS} members every ${INTERVAL} ms for ${(elapsed / 1000).toFixed(1)} s, load average ${(await import('node:os')).loadavg()[0].toFixed(1)}`);
console.log(`checks per member ${min}..${max}, expected ${expected.toFixed(0)}: fewest ${(min / expected).toFixed(2)}×, most ${(max / expected).toFixed(2)}× (jitter is ±10% per interval)`);
console.log(`CPU ${((used.user + used.system) / 1000).toFixed(0)} ms for ${checks} checks: ${((used.user + used.system) / checks).toFixed(1)} µs per check`);

// CPU time per 1,000 checks of the tcp and http monitors, against servers in another process
// (so their work is not counted). Run: npx node bench/monitors.ts [checks] [concurrency]

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { HttpMonitor, TcpMonitor } from '../src/config/health-types.ts';
import { createHttpMonitor } from '../src/health/monitors/http.ts';
import { createTcpMonitor } from '../src/health/monitors/tcp.ts';
import type { CheckTarget, Monitor } from '../src/health/monitor.ts';

const CHECKS = Number(process.argv[2] ?? 5000);
const CONCURRENCY = Number(process.argv[3] ?? 50);

const common = { interval: 1000, fastInterval: 250, timeout: 2000, rise: 2, fall: 3, port: null };
const tcp: TcpMonitor = { type: 'tcp', ...common, send: null, expect: null };
const http: HttpMonitor = {
  type: 'http', ...common, method: 'GET', path: '/health', host: null, headers: {}, body: null,
  expectStatus: [[200, 299]], expectBody: { kind: 'string', value: 'OK' }, maxBody: 65536,
  tls: { sni: null, verify: false, ca: null, cert: null, key: null },
};

/** An HTTP server (which also accepts plain TCP connects) in a child process. */
async function startServer(): Promise<{ port: number; stop(): void }> {
  const child = spawn(process.execPath, ['-e', `
    const http = require('node:http');
    const s = http.createServer((req, res) => res.end('OK'));
    s.keepAliveTimeout = 1000;
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(child.stdout!, 'data') as [Buffer];
  return { port: Number(String(line).trim()), stop: () => child.kill() };
}

async function measure(name: string, monitor: Monitor, target: CheckTarget): Promise<string> {
  let done = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (done < CHECKS) {
      done++;
      const result = await monitor.run(target, AbortSignal.timeout(2000));
      if (!result.up) failed++;
    }
  };
  // warm-up
  for (let i = 0; i < 200; i++) await monitor.run(target, AbortSignal.timeout(2000));
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const used = process.cpuUsage(cpu);
  const ms = (used.user + used.system) / 1000;
  const wall = performance.now() - started;
  return `${name.padEnd(5)} ${(ms / (CHECKS / 1000)).toFixed(0).padStart(6)} ms CPU per 1,000 checks` +
    ` (user ${(used.user / 1000 / (CHECKS / 1000)).toFixed(0)}, system ${(used.system / 1000 / (CHECKS / 1000)).toFixed(0)});` +
    ` ${(CHECKS / (wall / 1000)).toFixed(0)} checks/s; ${failed} failed`;
}

const server = await startServer();
const target = { host: '127.0.0.1', ip: '127.0.0.1', port: server.port };
console.log(`${CHECKS} checks, ${CONCURRENCY} at a time, node ${process.version}`);
console.log(await measure('tcp', createTcpMonitor(tcp), target));
console.log(await measure('http', createHttpMonitor(http), target));
server.stop();

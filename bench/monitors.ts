// CPU time per 1,000 checks of the tcp, http and grpc monitors, against servers in another process
// (so their work is not counted). Run: npx node bench/monitors.ts [checks] [concurrency]

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { GrpcMonitor, HttpMonitor, TcpMonitor } from '../src/config/health-types.ts';
import { createGrpcMonitor } from '../src/health/monitors/grpc.ts';
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

const grpc: GrpcMonitor = { type: 'grpc', ...common, service: '', authority: null, tls: null };

const HTTP_SERVER = `
  const http = require('node:http');
  const s = http.createServer((req, res) => res.end('OK'));
  s.keepAliveTimeout = 1000;
  s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;

/** grpc.health.v1.Health/Check answered SERVING by node:http2 (a gRPC server's wire, without its library's cost). */
const GRPC_SERVER = `
  const http2 = require('node:http2');
  const s = http2.createServer();
  s.on('stream', (stream) => {
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.of(0, 0, 0, 0, 2, 0x08, 0x01));
    });
  });
  s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;

/** A server in a child process: HTTP (which also accepts plain TCP connects) or gRPC health over h2c. */
async function startServer(code = HTTP_SERVER): Promise<{ port: number; stop(): void }> {
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
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
const grpcServer = await startServer(GRPC_SERVER);
console.log(await measure('grpc', createGrpcMonitor(grpc), { ...target, port: grpcServer.port }));
grpcServer.stop();

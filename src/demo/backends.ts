// Demo backends: small real servers on loopback that say who they are, so the balancing is
// visible from a shell. HTTP servers for the tcp and http services (GET /fail makes one fail its
// health check for a while), UDP echo servers for the udp service.

import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoBackend {
  name: string;
  port: number;
  close(): Promise<void>;
}

/** A backend whose /health fails for `down` ms out of every `period` (from its start): a server that comes and goes. */
export interface Flapping {
  period: number;
  down: number;
}

/** How long GET /fail makes a backend's /health fail. */
export const FAIL_FOR = 10_000;

export async function startHttpBackend(name: string, flapping: Flapping | null = null): Promise<DemoBackend> {
  const started = Date.now();
  let failUntil = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/fail') {
      // a failure on demand, for whoever watches the dashboard
      failUntil = Date.now() + FAIL_FOR;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${name} fails its health check for the next ${FAIL_FOR / 1000} s\n`);
      return;
    }
    if (req.url === '/health') {
      const now = Date.now();
      const sick = now < failUntil || (flapping !== null && (now - started) % flapping.period >= flapping.period - flapping.down);
      res.writeHead(sick ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(sick ? 'overloaded\n' : 'OK\n');
      return;
    }
    const body = `hello from ${name} (you asked for ${req.method} ${req.url})\n`;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-backend': name });
    res.end(body);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export async function startUdpEchoBackend(name: string): Promise<DemoBackend> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, from) => {
    socket.send(Buffer.concat([Buffer.from(`${name}: `), msg]), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    name,
    port: socket.address().port,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

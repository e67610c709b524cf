// Real peers for the basic monitors' tests (tcp, udp, http/https, script): loopback servers
// that record what crossed the wire, nginx in a temp dir, a self-signed certificate made by
// openssl, and the plumbing to build monitor configs. Everything started here has a close().

import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MonitorCommon } from '../../src/config/health-types.ts';
import type { CheckTarget } from '../../src/health/monitor.ts';
import { closeServer, listenOnLoopback } from '../helpers/servers.ts';

/** timing fields every monitor config has; the monitors under test ignore them */
export const COMMON: MonitorCommon = { interval: 1000, fastInterval: 500, timeout: 1000, rise: 1, fall: 1, port: null };

export function target(port: number, host = '127.0.0.1'): CheckTarget {
  return { host, ip: '127.0.0.1', port };
}

/** a signal that never aborts, for checks that must decide on their own */
export function never(): AbortSignal {
  return new AbortController().signal;
}

// --- TCP ---

/** resolves when `socket` has closed (events.once would reject on its 'error', which comes first) */
function closeOf(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

export interface TcpPeer {
  port: number;
  /** every accepted connection, in order */
  sockets: net.Socket[];
  /** resolves at the n-th accepted connection (1-based) */
  accepted(n?: number): Promise<net.Socket>;
  /** resolves when accepted connection n has closed */
  closed(n?: number): Promise<void>;
  /** bytes each connection received */
  received: Buffer[];
  close(): Promise<void>;
}

/** A TCP server running `handler` per connection (default: accept and say nothing). */
export async function tcpPeer(handler: (socket: net.Socket) => void = () => {}): Promise<TcpPeer> {
  const waiters: { n: number; resolve: (s: net.Socket) => void }[] = [];
  const closes: Promise<void>[] = [];
  const server = net.createServer((socket) => {
    const index = peer.sockets.length;
    peer.sockets.push(socket);
    peer.received.push(Buffer.alloc(0));
    closes.push(closeOf(socket));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => (peer.received[index] = Buffer.concat([peer.received[index], chunk])));
    handler(socket);
    for (const w of waiters.filter((w) => w.n === peer.sockets.length)) w.resolve(socket);
  });
  const peer: TcpPeer = {
    port: 0,
    sockets: [],
    received: [],
    accepted(n = 1) {
      if (peer.sockets.length >= n) return Promise.resolve(peer.sockets[n - 1]);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    async closed(n = 1) {
      await peer.accepted(n);
      await closes[n - 1];
    },
    close: () => closeServer(server, peer.sockets),
  };
  peer.port = await listenOnLoopback(server);
  return peer;
}

// --- UDP ---

export interface UdpPeer {
  port: number;
  /** every datagram received */
  received: Buffer[];
  /** resolves at the n-th datagram */
  datagram(n?: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** A UDP server answering each datagram with `reply(datagram)` (null = stay silent). */
export async function udpPeer(reply: (msg: Buffer) => Buffer | null): Promise<UdpPeer> {
  const socket = dgram.createSocket('udp4');
  const waiters: { n: number; resolve: (b: Buffer) => void }[] = [];
  const peer: UdpPeer = {
    port: 0,
    received: [],
    datagram(n = 1) {
      if (peer.received.length >= n) return Promise.resolve(peer.received[n - 1]);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg, rinfo) => {
    peer.received.push(msg);
    const answer = reply(msg);
    if (answer !== null) socket.send(answer, rinfo.port, rinfo.address);
    for (const w of waiters.filter((w) => w.n === peer.received.length)) w.resolve(msg);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  peer.port = socket.address().port;
  return peer;
}

// --- HTTP ---

export interface SeenRequest {
  method: string;
  url: string;
  host: string | undefined;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** the TLS server name the client sent (https only; false = none) */
  servername?: string | false;
}

export interface HttpPeer {
  port: number;
  requests: SeenRequest[];
  /** resolves when the n-th request (1-based) has been received in full */
  requested(n: number): Promise<void>;
  /** resolves when the connection of the n-th request has closed */
  connectionClosed(n: number): Promise<void>;
  /** resolves when every connection so far has closed */
  idle(): Promise<void>;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function listenHttp(server: http.Server | https.Server, handler: Handler): Promise<HttpPeer> {
  const closes: Promise<void>[] = [];
  const connections: Promise<void>[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  server.on('connection', (socket: net.Socket) => connections.push(closeOf(socket)));
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    const closed = closeOf(req.socket);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        host: req.headers.host,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      if ('servername' in req.socket) seen.servername = (req.socket as { servername: string | false }).servername;
      peer.requests.push(seen);
      closes.push(closed);
      handler(req, res);
      for (const w of waiters.filter((w) => w.n === peer.requests.length)) w.resolve();
    });
  });
  const peer: HttpPeer = {
    port: 0,
    requests: [],
    async requested(n) {
      if (peer.requests.length < n) await new Promise<void>((resolve) => waiters.push({ n, resolve }));
    },
    async connectionClosed(n) {
      await peer.requested(n);
      await closes[n - 1];
    },
    async idle() {
      await Promise.all(connections);
    },
    async close() {
      server.close();
      server.closeAllConnections();
      await once(server, 'close');
    },
  };
  peer.port = await listenOnLoopback(server);
  return peer;
}

export function httpPeer(handler: Handler): Promise<HttpPeer> {
  return listenHttp(http.createServer(), handler);
}

export function httpsPeer(handler: Handler, cert: SelfSigned): Promise<HttpPeer> {
  return listenHttp(https.createServer({ cert: cert.cert, key: cert.key }), handler);
}

/** Writes a body that never ends (until the client goes away). */
export function endlessBody(res: http.ServerResponse, chunk = Buffer.alloc(16 * 1024, 'x')): void {
  res.writeHead(200, { 'content-type': 'text/plain' });
  const pump = (): void => {
    while (!res.destroyed && res.write(chunk));
  };
  res.on('drain', pump);
  pump();
}

// --- certificates ---

export interface SelfSigned {
  certPath: string;
  keyPath: string;
  cert: Buffer;
  key: Buffer;
}

/** A self-signed P-256 certificate for CN=localhost, made by openssl in `dir`. */
export async function selfSigned(dir: string): Promise<SelfSigned> {
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', '/CN=localhost', '-days', '1', '-keyout', keyPath, '-out', certPath,
  ]);
  return { certPath, keyPath, cert: await readFile(certPath), key: await readFile(keyPath) };
}

// Real servers on loopback for the tests: TCP servers that greet with their name or run a
// handler, UDP servers that echo with their name. Each records what it saw and closes cleanly:
// when the test calls close(), else at the end of the test file.

import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { atEnd } from './cleanup.ts';

export interface TcpServer {
  name: string;
  port: number;
  /** connections accepted so far */
  accepted: number;
  /** connections open now, and the most at once */
  open: number;
  peak: number;
  /** the client address:port each accepted connection came from (the balancer's side) */
  peers: string[];
  close(): Promise<void>;
}

/** Listens on 127.0.0.1, on a port the system picks; resolves with that port. */
export async function listenOnLoopback(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** Ends the server's connections (`sockets`, those it accepted) and closes it. */
export async function closeServer(server: net.Server, sockets: Iterable<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  server.close();
  await once(server, 'close');
}

/** A TCP server; by default it writes `name\n` on connect and closes when the client does. */
export async function startTcpServer(name: string, handler?: (socket: net.Socket) => void): Promise<TcpServer> {
  const sockets = new Set<net.Socket>();
  const state: TcpServer = {
    name, port: 0, accepted: 0, open: 0, peak: 0, peers: [],
    close: atEnd(() => closeServer(server, sockets)),
  };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    state.accepted++;
    state.open++;
    state.peak = Math.max(state.peak, state.open);
    state.peers.push(`${socket.remoteAddress}:${socket.remotePort}`);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      state.open--;
    });
    if (handler !== undefined) return handler(socket);
    socket.write(`${name}\n`);
    socket.on('data', () => {});
    socket.on('end', () => socket.end());
  });
  state.port = await listenOnLoopback(server);
  return state;
}

export interface UdpServer {
  name: string;
  port: number;
  /** the source address:port of every datagram received */
  from: string[];
  close(): Promise<void>;
}

/** A UDP server answering each datagram with `name:` followed by the datagram. */
export async function startUdpServer(name: string): Promise<UdpServer> {
  const socket = dgram.createSocket('udp4');
  const state: UdpServer = {
    name, port: 0, from: [],
    close: atEnd(() => new Promise<void>((resolve) => socket.close(() => resolve()))),
  };
  socket.on('message', (msg, rinfo) => {
    state.from.push(`${rinfo.address}:${rinfo.port}`);
    socket.send(Buffer.concat([Buffer.from(`${name}:`), msg]), rinfo.port, rinfo.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  state.port = socket.address().port;
  return state;
}

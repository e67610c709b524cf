// Loopback ports for peers to start on, and for connections that must find nobody listening.

import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';

async function bindUdp(port: number, ip: string): Promise<dgram.Socket | null> {
  const socket = dgram.createSocket(net.isIPv6(ip) ? 'udp6' : 'udp4');
  try {
    socket.bind(port, ip);
    await once(socket, 'listening');
    return socket;
  } catch {
    socket.close();
    return null;
  }
}

/**
 * A loopback port where nothing listens, for TCP nor UDP, right now (bound, then closed): for a
 * peer to be started on, or to be refused at. `span` > 1 asks that the ports after it are free
 * too (SIPp binds port and port+2).
 */
export async function freePort(ip = '127.0.0.1', span = 1): Promise<number> {
  for (;;) {
    const server = net.createServer();
    server.listen(0, ip);
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const udp: dgram.Socket[] = [];
    let ok = port + span <= 65535;
    for (let p = port; ok && p < port + span; p++) {
      const socket = await bindUdp(p, ip);
      if (socket === null) ok = false;
      else udp.push(socket);
    }
    await Promise.all(udp.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
    server.close();
    await once(server, 'close');
    if (ok) return port;
  }
}

interface BoundHandle {
  bind(ip: string, port: number): number;
  bind6(ip: string, port: number, flags: number): number;
  getsockname(out: { port?: number }): number;
  unref(): void;
}
type TcpWrap = { TCP: new (type: number) => BoundHandle; constants: { SOCKET: number } };
const held: BoundHandle[] = [];

/**
 * A loopback TCP port that refuses connections for as long as the test's process runs: a
 * socket bound to it that never listens. A port from freePort() is free only until another test
 * file running beside this one listens on port 0 and is handed the same number; the kernel never
 * hands out a port a socket is bound to. (Node's net module cannot bind without listening, hence
 * its TCP handle.)
 */
export function refusedPort(ip = '127.0.0.1'): number {
  const { TCP, constants } = (process as unknown as { binding(name: string): TcpWrap }).binding('tcp_wrap');
  const handle = new TCP(constants.SOCKET);
  const err = net.isIPv6(ip) ? handle.bind6(ip, 0, 0) : handle.bind(ip, 0);
  if (err !== 0) throw new Error(`refusedPort: bind ${ip} failed (${err})`);
  const out: { port?: number } = {};
  handle.getsockname(out);
  handle.unref();
  held.push(handle);
  return out.port!;
}

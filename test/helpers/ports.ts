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

// One request/response exchange over UDP or TCP for the protocol monitors (dns, radius, sip).
// Every socket is closed when the check settles; errors become reasons in words.

import dgram from 'node:dgram';
import net from 'node:net';
import type { CheckScope } from './proto-check.ts';
import { errorText, socketErrorReason } from './proto-check.ts';

/** Runs a protocol callback from a socket event: a throw there becomes the check's result, never a crash. */
function guarded(scope: CheckScope, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    scope.down(`check failed: ${errorText(err)}`);
  }
}

export interface Endpoint {
  ip: string;
  port: number;
}

export interface UdpPeer {
  /** our side of the connected socket (for Via, NAS-IP-Address, ...) */
  local: Endpoint;
  send(data: Buffer): void;
}

/**
 * A UDP socket connected to the target: only the target's datagrams reach us, and an ICMP
 * port unreachable coming back is reported (as ECONNREFUSED) instead of being lost.
 */
export function udpExchange(
  scope: CheckScope,
  target: Endpoint,
  onReady: (peer: UdpPeer) => void,
  onMessage: (message: Buffer) => void,
): void {
  const socket = dgram.createSocket({ type: net.isIPv6(target.ip) ? 'udp6' : 'udp4' });
  scope.defer(() => socket.close());
  socket.on('error', (err) => scope.down(socketErrorReason(err, 'udp')));
  socket.on('message', (message) => {
    if (!scope.settled) guarded(scope, () => onMessage(message));
  });
  socket.connect(target.port, target.ip, () => {
    if (scope.settled) return;
    const local = socket.address();
    guarded(scope, () => onReady({
      local: { ip: local.address, port: local.port },
      send(data) {
        if (scope.settled) return;
        socket.send(data, (err) => {
          if (err) scope.down(socketErrorReason(err, 'udp'));
        });
      },
    }));
  });
}

export interface TcpPeer {
  local: Endpoint;
  send(data: Buffer): void;
}

export interface TcpReader {
  /**
   * Gets everything received and not yet consumed; returns how many bytes it consumed
   * (0 = waiting for more). It may settle the check.
   */
  onData(buffered: Buffer): number;
  /** the reason when more than `maxBytes` are buffered without being consumed */
  tooLarge: string;
  maxBytes: number;
}

/** A TCP connection to the target whose reads are bounded by `reader.maxBytes`. */
export function tcpExchange(scope: CheckScope, target: Endpoint, onConnect: (peer: TcpPeer) => void, reader: TcpReader): void {
  const socket = net.connect({ host: target.ip, port: target.port });
  scope.defer(() => socket.destroy());
  socket.setNoDelay(true);
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('error', (err) => scope.down(socketErrorReason(err, 'tcp')));
  socket.on('end', () => scope.down('connection closed before a response'));
  socket.on('close', () => scope.down('connection closed before a response'));
  socket.on('connect', () => {
    if (scope.settled) return;
    guarded(scope, () => onConnect({
      local: { ip: socket.localAddress ?? '', port: socket.localPort ?? 0 },
      send(data) {
        if (!scope.settled) socket.write(data);
      },
    }));
  });
  socket.on('data', (chunk: Buffer) => {
    if (scope.settled) return;
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    // consume as many complete messages as there are
    for (;;) {
      let used = 0;
      guarded(scope, () => {
        used = reader.onData(buffered);
      });
      if (scope.settled) return;
      if (used <= 0) break;
      buffered = buffered.subarray(used);
      if (buffered.length === 0) break;
    }
    if (buffered.length > reader.maxBytes) scope.down(reader.tooLarge);
  });
}

// Helpers of the log tests: requests on new connections, the lines of a log file once it has
// enough (woken by the directory's change events, not by a timer), syslog servers that keep what
// they receive.

import { once } from 'node:events';
import { readFileSync, watch } from 'node:fs';
import { createSocket } from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { dirname } from 'node:path';
import { atEnd } from '../helpers/cleanup.ts';
import { until } from '../helpers/wait.ts';
import { EventEmitter } from 'node:events';

/** GET `path` on a connection of its own; resolves with the status once the body is read. */
export function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode!));
    }).on('error', reject);
  });
}

/** The lines of `file` once it has at least `n`, or once `n` holds of them (none while it does not exist). */
export async function fileLines(file: string, n: number | ((lines: string[]) => boolean)): Promise<string[]> {
  const read = (): string[] => {
    try {
      return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    } catch {
      return [];
    }
  };
  const watcher = watch(dirname(file));
  try {
    await until(() => (typeof n === 'number' ? read().length >= n : n(read())), watcher, 'change');
  } finally {
    watcher.close();
  }
  return read();
}

export interface SyslogServer {
  port: number;
  /** the messages received, without framing */
  messages: string[];
  /** emits 'message' after each */
  events: EventEmitter;
  close(): Promise<void>;
}

export async function udpSyslog(): Promise<SyslogServer> {
  const socket = createSocket('udp4');
  const server: SyslogServer = { port: 0, messages: [], events: new EventEmitter(), close: () => new Promise((r) => socket.close(() => r())) };
  socket.on('message', (m) => {
    server.messages.push(m.toString('utf8'));
    server.events.emit('message');
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  server.port = socket.address().port;
  atEnd(() => server.close().catch(() => {}));
  return server;
}

/** A syslog server over tcp reading RFC 6587 octet-counted frames (`LENGTH SP MESSAGE`). */
export async function tcpSyslog(port = 0): Promise<SyslogServer> {
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const space = buffered.indexOf(0x20);
        if (space === -1) return;
        const length = Number(buffered.subarray(0, space).toString('latin1'));
        if (buffered.length < space + 1 + length) return;
        server.messages.push(buffered.subarray(space + 1, space + 1 + length).toString('utf8'));
        buffered = buffered.subarray(space + 1 + length);
        server.events.emit('message');
      }
    });
  });
  const server: SyslogServer = {
    port: 0, messages: [], events: new EventEmitter(),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => tcp.close(() => r()));
    },
  };
  tcp.listen(port, '127.0.0.1');
  await once(tcp, 'listening');
  server.port = (tcp.address() as net.AddressInfo).port;
  atEnd(() => server.close().catch(() => {}));
  return server;
}

/** The messages of `server` once it has `n` that satisfy `match`. */
export async function received(server: SyslogServer, n: number, match: (m: string) => boolean): Promise<string[]> {
  await until(() => server.messages.filter(match).length >= n, server.events, 'message');
  return server.messages.filter(match);
}

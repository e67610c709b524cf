// Clients for the tests: connect, read what the server says, and observe how the connection ended.

import { once } from 'node:events';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';

export interface Exchange {
  data: Buffer;
  /** 'end': the peer closed cleanly (FIN); 'reset': ECONNRESET */
  ending: 'end' | 'reset';
}

/** Connects, optionally writes `send` and half-closes, and reads until the connection ends. */
export function exchange(port: number, send?: string | Buffer, host = '127.0.0.1'): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ port, host, allowHalfOpen: true });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') resolve({ data: Buffer.concat(chunks), ending: 'reset' });
      else reject(err);
    });
    socket.on('end', () => {
      socket.end();
      resolve({ data: Buffer.concat(chunks), ending: 'end' });
    });
    if (send !== undefined) socket.on('connect', () => socket.end(send));
  });
}

/** Connects (from `from`, a loopback address, when given) and resolves with the socket once the first line (the server's greeting) arrived. */
export function greeted(port: number, from?: string): Promise<{ socket: net.Socket; line: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += String(chunk);
      const nl = text.indexOf('\n');
      if (nl === -1) return;
      socket.off('data', onData).off('end', onEnd).off('error', reject);
      socket.on('error', () => {});
      socket.pause();
      resolve({ socket, line: text.slice(0, nl) });
    };
    const onEnd = (): void => reject(new Error(`connection ended before a line: ${JSON.stringify(text)}`));
    socket.on('data', onData).on('end', onEnd).on('error', reject);
  });
}

/** Connects; resolves with the socket once the server's greeting came, or null if the connection ended without one. */
export function greetedOrEnded(port: number): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => resolve(null));
    socket.once('data', () => resolve(socket));
    socket.on('close', () => resolve(null));
  });
}

/** The first line a server greets with, on a connection (from `from`, when given) that is then closed. */
export async function greeting(port: number, from?: string): Promise<string> {
  const { socket, line } = await greeted(port, from);
  socket.resume();
  socket.end();
  await once(socket, 'close');
  return line;
}

/** A UDP client socket that sends and awaits one reply at a time. */
export async function udpClient(): Promise<{ ask(port: number, text: string): Promise<{ text: string; from: dgram.RemoteInfo }>; port: number; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return {
    port: socket.address().port,
    async ask(port, text) {
      const reply = once(socket, 'message') as Promise<[Buffer, dgram.RemoteInfo]>;
      socket.send(text, port, '127.0.0.1');
      const [msg, from] = await reply;
      return { text: msg.toString(), from };
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** The body of GET / on a loopback http port (a fresh connection, no agent). */
export function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

// What the worker tests share: a member that echoes, a client that talks to it, and what each
// worker has served.

import { once } from 'node:events';
import type net from 'node:net';
import type { Furiwake } from '../../src/app.ts';

/** A member's connection handler: greets with `name`, then echoes each chunk prefixed with it. */
export const echo = (name: string) => (socket: net.Socket) => {
  socket.write(`${name}\n`);
  socket.on('data', (d: Buffer) => socket.write(`${name}:${d}`));
  socket.on('end', () => socket.end());
};

/** Writes `text` and resolves with the next chunk that comes back. */
export async function talk(socket: net.Socket, text: string): Promise<string> {
  const reply = once(socket, 'data');
  socket.write(text);
  return String((await reply)[0]);
}

/** Connections (http: requests) each worker gave to members so far. */
export async function servedPerWorker(app: Furiwake): Promise<number[]> {
  const stats = await app.workers!.stats();
  return stats.map((s) => Object.values(s.served).reduce((a, b) => a + b, 0));
}

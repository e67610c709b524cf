// What the worker-threads tests share: a config with `global.workers` set, a member that echoes,
// a client that talks to it, what each worker has served, and waiting until no worker holds a
// connection. (A client that may be turned away: greetedOrEnded in ../helpers/clients.ts.)

import { once } from 'node:events';
import type net from 'node:net';
import type { Furiwake } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';

export function withWorkers(config: Config, workers: number): Config {
  return { ...config, global: { ...config.global, workers } };
}

/** Once no worker holds a connection any more (each round is one message to every worker and back). */
export async function drained(app: Furiwake): Promise<void> {
  for (;;) {
    const stats = await app.workers!.stats();
    if (stats.every((s) => s.connections === 0)) return;
  }
}

/**
 * The connections each worker holds, once they add up to `total` (or as they stand after
 * `rounds` asks): a client that has seen its connection end is still counted until its worker
 * has run the close, a moment later.
 */
export async function connectionsSettle(app: Furiwake, total: number, rounds = 1_000): Promise<number[]> {
  let counts: number[] = [];
  for (let i = 0; i < rounds; i++) {
    counts = (await app.workers!.stats()).map((s) => s.connections);
    if (counts.reduce((a, b) => a + b, 0) === total) break;
  }
  return counts;
}

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

// What the worker-threads tests share: a config with `global.workers` set, clients that may be
// turned away, and waiting until no worker holds a connection.

import net from 'node:net';
import type { Furiwake } from '../../src/app.ts';
import type { Config } from '../../src/config/types.ts';

export function withWorkers(config: Config, workers: number): Config {
  return { ...config, global: { ...config.global, workers } };
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

/** Once no worker holds a connection any more (each round is one message to every worker and back). */
export async function drained(app: Furiwake): Promise<void> {
  for (;;) {
    const stats = await app.workers!.stats();
    if (stats.every((s) => s.connections === 0)) return;
  }
}

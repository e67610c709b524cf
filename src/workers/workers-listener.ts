// A tcp or http service served by the worker threads, as the main thread holds it: it binds the
// address first (SO_REUSEPORT), so a port 0 becomes one real port that every worker binds too,
// and lets go of it once the workers are bound (release). Connections are the workers'.
// A tcp service's stream engine is chosen here too, as the workers choose it (same environment,
// same Node.js flags), so that the choice and its note are said once, by the main thread.

import net from 'node:net';
import { once } from 'node:events';
import { bindHost, type Listener } from '../proxy/listener.ts';
import type { Endpoint } from '../runtime/connection-table.ts';
import type { Service } from '../runtime/service.ts';
import { streamEngine } from '../proxy/stream-engine.ts';
import type { Logger } from '../log.ts';
import type { StreamEngine } from '../proxy/stream.ts';

export class WorkersListener implements Listener {
  readonly service: Service;
  /** the stream engine of a tcp service's connections in the workers; null for http */
  readonly engine: StreamEngine['name'] | null;
  #server: net.Server | null = null;
  #address: Endpoint | null = null;

  /** Throws, as a TcpListener does, when FURIWAKE_TCP_ENGINE names an engine that cannot load. */
  constructor(service: Service, log: Logger) {
    this.service = service;
    this.engine = service.config.mode === 'tcp' ? streamEngine(undefined, log).name : null;
  }

  async listen(): Promise<void> {
    // a client that reaches this socket in the moment before the workers bind is turned away
    const server = net.createServer((socket) => socket.destroy());
    server.on('error', () => {});
    this.#server = server;
    server.listen({ host: bindHost(this.service), port: this.service.config.listen.port, reusePort: true });
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
    const { address, port } = server.address() as net.AddressInfo;
    this.#address = { address, port };
  }

  address(): Endpoint {
    if (this.#address === null) throw new Error(`service ${this.service.name} is not bound`);
    return this.#address;
  }

  /** The workers hold the address now: the main thread's bind goes. */
  release(): void {
    this.#server?.close();
    this.#server = null;
  }

  /** The workers' listeners close with their config (reload) or their stop. */
  async close(): Promise<void> {
    this.release();
  }
}

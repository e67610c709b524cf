// The listening socket of a tcp service. Each accepted client becomes a TcpConnection, on the
// stream engine chosen at start (stream-engine.ts).

import type { Logger } from '../log.ts';
import type { ConnectionTable, Endpoint } from '../runtime/connection-table.ts';
import type { Service } from '../runtime/service.ts';
import { bindHost, type Listener } from './listener.ts';
import type { StreamEngine, StreamServer } from './stream.ts';
import { streamEngine } from './stream-engine.ts';
import { TcpConnection } from './tcp-connection.ts';

/** Clients the kernel may hold for us before we accept them. */
const BACKLOG = 1024;

export class TcpListener implements Listener {
  readonly service: Service;
  readonly #table: ConnectionTable;
  readonly #log: Logger;
  readonly #engine: StreamEngine;
  #server: StreamServer | null = null;
  #address: Endpoint | null = null;

  constructor(service: Service, table: ConnectionTable, log: Logger, engine: StreamEngine = streamEngine()) {
    this.service = service;
    this.#table = table;
    this.#log = log;
    this.#engine = engine;
  }

  /** which stream engine carries this service's connections */
  get engine(): StreamEngine['name'] {
    return this.#engine.name;
  }

  async listen(): Promise<void> {
    const service = this.service;
    const table = this.#table;
    const engine = this.#engine;
    this.#server = await engine.listen(
      bindHost(service),
      service.config.listen.port,
      BACKLOG,
      (client) => new TcpConnection(service, table, engine).start(client),
      // Accept errors (EMFILE and the like) are logged; they must not crash the process.
      (err) => this.#log.error({ service: service.name, err }, 'accept failed'),
    );
    this.#address = this.#server.address();
  }

  address(): Endpoint {
    if (this.#address === null) throw new Error(`service ${this.service.name} is not listening`);
    return this.#address;
  }

  /** The listening socket closes now; live connections keep flowing. */
  async close(): Promise<void> {
    this.#server?.close();
    this.#server = null;
  }
}

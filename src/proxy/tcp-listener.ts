// The listening socket of a tcp service. Each accepted client becomes a TcpConnection, on the
// stream engine chosen at start (stream-engine.ts). The listener logs and counts what its
// connections report: clients refused for their PROXY header, and connections ended by a throw
// (which never reaches the event loop, so never ends the process).

import type { Logger } from '../log.ts';
import type { ConnectionTable, Endpoint } from '../runtime/connection-table.ts';
import type { Service } from '../runtime/service.ts';
import { bindHost, type Listener } from './listener.ts';
import type { StreamEngine, StreamServer } from './stream.ts';
import { streamEngine } from './stream-engine.ts';
import { TcpConnection, type TcpConnectionReporter } from './tcp-connection.ts';

/** Clients the kernel may hold for us before we accept them. */
const BACKLOG = 1024;

export interface TcpListenerCounters {
  /** clients turned away for their PROXY header: malformed, missing, or not within the connect timeout */
  headersRefused: number;
  /** connections ended by an unexpected error (logged) */
  failed: number;
}

export class TcpListener implements Listener, TcpConnectionReporter {
  readonly service: Service;
  readonly counters: TcpListenerCounters = { headersRefused: 0, failed: 0 };
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
      (client) => {
        try {
          new TcpConnection(service, table, engine, this).start(client);
        } catch (err) {
          // (the connection catches its own; this is adopting the socket itself failing)
          this.failed(null, err);
        }
      },
      // Accept errors (EMFILE and the like) are logged; they must not crash the process.
      (err) => this.#log.error({ service: service.name, err }, 'accept failed'),
    );
    this.#address = this.#server.address();
  }

  headerRefused(conn: TcpConnection, why: string): void {
    this.counters.headersRefused++;
    const client = conn.client;
    this.#log.warn({ service: this.service.name, client: client.address, port: client.port, reason: why }, 'PROXY header refused');
  }

  failed(conn: TcpConnection | null, err: unknown): void {
    this.counters.failed++;
    this.#log.error({ service: this.service.name, connection: conn?.id, err }, 'connection ended by an unexpected error');
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

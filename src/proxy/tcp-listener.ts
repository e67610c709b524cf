// The listening socket of a tcp service. Each accepted client becomes a TcpConnection.

import net from 'node:net';
import type { Logger } from '../log.ts';
import type { ConnectionTable, Endpoint } from '../runtime/connection-table.ts';
import type { Service } from '../runtime/service.ts';
import { bindHost, type Listener } from './listener.ts';
import { TcpConnection } from './tcp-connection.ts';

export class TcpListener implements Listener {
  readonly service: Service;
  readonly #server: net.Server;

  readonly #log: Logger;

  constructor(service: Service, table: ConnectionTable, log: Logger) {
    this.service = service;
    this.#log = log;
    // allowHalfOpen: a client's FIN must not close our side; the member still has to answer.
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      new TcpConnection(socket, service, table).start();
    });
  }

  listen(): Promise<void> {
    const service = this.service;
    const { port } = service.config.listen;
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: bindHost(service), port, backlog: 1024 }, () => {
        this.#server.off('error', reject);
        // Accept errors (EMFILE and the like) are logged; they must not crash the process.
        this.#server.on('error', (err) => this.#log.error({ service: service.name, err }, 'accept failed'));
        resolve();
      });
    });
  }

  address(): Endpoint {
    const a = this.#server.address() as net.AddressInfo;
    return { address: a.address, port: a.port };
  }

  /** The listening socket closes now; server.close()'s own callback would wait for every connection. */
  async close(): Promise<void> {
    if (this.#server.listening) this.#server.close();
  }
}

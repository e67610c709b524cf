// The listening socket of a tcp service. Each accepted client becomes a TcpConnection, on the
// stream engine chosen at start (stream-engine.ts), unless its address is at the service's
// max-connections-per-client or the descriptor budget is spent: then it is closed at once. The
// listener logs and counts what its connections report: clients refused for their PROXY header,
// and connections ended by a throw (which never reaches the event loop, so never ends the process).

import type { Logger } from '../log.ts';
import type { ConnectionTable, Endpoint } from '../runtime/connection-table.ts';
import { ResourceCounts } from '../runtime/resources.ts';
import type { Service } from '../runtime/service.ts';
import { Admission, refuse } from './admission.ts';
import { connectionLogging, logConnection } from './connection-log.ts';
import { DeadlineSweep, sweepEvery } from './deadline-sweep.ts';
import { acceptFailed, bindHost, connectionFailed, type Listener, type ListenerOptions } from './listener.ts';
import type { StreamEngine, StreamServer } from './stream.ts';
import { streamEngine } from './stream-engine.ts';
import { TcpConnection, type TcpConnectionReporter } from './tcp-connection.ts';

/** Clients the kernel may hold for us before we accept them. */
const BACKLOG = 1024;

export class TcpListener implements Listener, TcpConnectionReporter {
  readonly service: Service;
  readonly #table: ConnectionTable;
  readonly #log: Logger;
  readonly #resources: ResourceCounts;
  readonly #engine: StreamEngine;
  readonly #admission: Admission<TcpConnection>;
  readonly #reusePort: boolean;
  /** every live connection's timeout (head, connect, idle), kept to within a tenth of the shortest */
  readonly #sweep = new DeadlineSweep(() => sweepEvery(Math.min(this.service.config.timeouts.connect, this.service.config.timeouts.idle)));
  #server: StreamServer | null = null;
  #address: Endpoint | null = null;

  constructor(service: Service, table: ConnectionTable, log: Logger, resources = new ResourceCounts(), engine: StreamEngine = streamEngine(undefined, log), options: ListenerOptions = {}) {
    this.service = service;
    this.#reusePort = options.reusePort ?? false;
    this.#table = table;
    this.#log = log;
    this.#resources = resources;
    this.#engine = engine;
    this.#admission = new Admission(service, resources, log);
  }

  /** which stream engine carries this service's connections */
  get engine(): StreamEngine['name'] {
    return this.#engine.name;
  }

  async listen(): Promise<void> {
    const service = this.service;
    this.#server = await this.#engine.listen(bindHost(service), service.config.listen.port, BACKLOG, this.#accept, (err) => acceptFailed(this.#log, this.#resources, service.name, err), this.#reusePort);
    this.#address = this.#server.address();
  }

  headerRefused(conn: TcpConnection, why: string): void {
    this.#resources.proxyHeaderRefused(this.#log, this.service.name, conn.client.address, why);
  }

  denied(client: string, route: string | null): void {
    const service = this.service.name;
    const key = route === null ? `access:${service}` : `access:${service}:${route}`;
    const msg = route === null ? 'a client the service\'s access does not allow was refused' : 'a connection was refused by a route (deny, or the route\'s access)';
    this.#resources.limited(this.#log, key, route === null ? { service, client } : { service, route, client }, msg);
  }

  failed(conn: TcpConnection | null, err: unknown): void {
    connectionFailed(this.#log, this.#resources, this.service.name, conn?.id, err);
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

  #accept = (client: unknown): void => {
    let conn: TcpConnection | null = null;
    try {
      // access by the peer's address, before anything is read or counted; behind accept-proxy
      // the client is the one the PROXY header names, checked once the header is read
      const service = this.service;
      if (service.access !== null && !service.config.acceptProxy) {
        const peer = this.#engine.peerAddress(client);
        if (!service.access.allows(peer)) {
          service.denied++;
          this.denied(peer, null);
          return refuse(this.#engine, client);
        }
      }
      const address = this.#admission.admit(this.#engine, client, this.#table.size);
      if (address === null) return;
      conn = new TcpConnection(this.service, this.#table, this.#engine, this);
      this.#admission.count(conn, address);
      this.#sweep.add(conn);
      conn.start(client);
    } catch (err) {
      // (a connection catches its own throws; this is adopting the socket itself failing)
      if (conn !== null) this.#sweep.delete(conn);
      this.failed(null, err);
    }
  };

  get logsConnections(): boolean {
    return connectionLogging(this.service.config, this.#log);
  }

  finished(conn: TcpConnection): void {
    this.#sweep.delete(conn);
    this.#admission.release(conn);
    if (!connectionLogging(this.service.config, this.#log)) return;
    try {
      this.#logEnd(conn);
    } catch (err) {
      this.failed(conn, err);
    }
  }

  /** The connection log line of a connection that ended (its member not yet released). */
  #logEnd(conn: TcpConnection): void {
    const member = conn.lastMember;
    const route = conn.route;
    logConnection(this.#log, {
      client: conn.client.address,
      service: this.service.name,
      ...(route === null ? {} : { route }),
      ...(member === null ? {} : { pool: member.poolName }),
      member: member?.id ?? null,
      protocol: 'tcp',
      bytesIn: conn.bytesIn,
      bytes: conn.bytesOut,
      termination: conn.termination,
    }, conn.times, Date.now() - conn.startedAt);
  }
}


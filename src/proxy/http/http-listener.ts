// The listening socket of an http service (https when it has certificates). Each accepted
// client becomes an HttpConnection: on the stream engine for plain http, as a net.Socket when
// TLS must wrap it or a PROXY header comes first. A client that speaks HTTP/2 (h2 chosen in
// ALPN, or the HTTP/2 preface on an h2c service) becomes an H2Session instead: the protocol is
// known once the TLS handshake is done or the first bytes have come, within the headers timeout. One sweep per listener enforces every connection's
// deadline (headers, keep-alive, connect, response, idle) and closes member connections idle
// past their time: a field compare per connection per tick, instead of a timer per request.

import type net from 'node:net';
import { acceptsSockets } from '../../config/diff.ts';
import { readProxyHeader } from '../proxy-header-reader.ts';
import type { ServiceConfig } from '../../config/types.ts';
import type { Logger } from '../../log.ts';
import type { ConnectionTable, Endpoint } from '../../runtime/connection-table.ts';
import { ResourceCounts } from '../../runtime/resources.ts';
import type { Service } from '../../runtime/service.ts';
import { Admission } from '../admission.ts';
import { SweepTimer, sweepEvery } from '../deadline-sweep.ts';
import { acceptFailed, bindHost, connectionFailed, type Listener, type ListenerOptions } from '../listener.ts';
import { socketEngine } from '../socket-stream.ts';
import type { StreamEngine, StreamServer } from '../stream.ts';
import { streamEngine } from '../stream-engine.ts';
import type { HttpServiceContext, ResponseCounter } from './context.ts';
import { H2Session } from './h2-session.ts';
import { HttpConnection } from './http-connection.ts';
import { MemberConnections } from './member-connections.ts';
import { TlsTerminator } from './tls-terminator.ts';

/** The sweep's interval for the service's shortest timeout (sweepEvery). */
export function sweepInterval(config: ServiceConfig): number {
  const http = config.http!;
  const t = http.timeouts;
  const shortest = Math.min(t.headers, t.keepAlive, t.response, t.body, t.request > 0 ? t.request : Infinity, config.timeouts.connect, config.timeouts.idle);
  return sweepEvery(shortest);
}

export class HttpListener implements Listener {
  readonly service: Service;
  /** what clients are accepted on; member connections use the stream engine either way */
  readonly #engine: StreamEngine;
  #server: StreamServer | null = null;
  #address: Endpoint | null = null;
  readonly #table: ConnectionTable;
  readonly #log: Logger;
  readonly #ctx: HttpServiceContext;
  readonly #connections = new Set<HttpConnection | H2Session>();
  /** sockets still reading their PROXY header: no connection yet, but ours to close on stop */
  readonly #pending = new Set<net.Socket>();
  /**
   * sockets whose protocol is not known yet (a TLS handshake offering h2, an h2c service's first
   * bytes), with the time they must be known by: ours to close on stop, and when late
   */
  readonly #undecided = new Map<net.Socket, number>();
  readonly #resources: ResourceCounts;
  /** counts per client address (max-connections-per-client): a connection, or the raw socket under TLS or a PROXY header */
  readonly #admission: Admission<object>;
  readonly #tls = new TlsTerminator();
  /** connections counted in the budget as their client's descriptor alone (their pool speaks HTTP/2 to its members) */
  readonly #clientOnly = new Set<HttpConnection | H2Session>();
  readonly #sweeper = new SweepTimer(() => sweepInterval(this.service.config), () => this.#sweep());
  #closed = false;
  readonly #reusePort: boolean;

  constructor(service: Service, table: ConnectionTable, log: Logger, counts: ResponseCounter | null = null, resources = new ResourceCounts(), options: ListenerOptions = {}) {
    this.service = service;
    this.#reusePort = options.reusePort ?? false;
    this.#resources = resources;
    this.#table = table;
    this.#log = log;
    this.#admission = new Admission(service, resources, log);
    const engine = streamEngine(undefined, log);
    this.#engine = acceptsSockets(service.config) ? socketEngine : engine;
    this.#ctx = { service, members: new MemberConnections(engine, resources, table), log, counts };
  }

  get connections(): number {
    return this.#connections.size;
  }

  /** Clients still sending their PROXY header, or whose protocol is not known yet. */
  get pending(): number {
    return this.#pending.size + this.#undecided.size;
  }

  async listen(): Promise<void> {
    const service = this.service;
    const tlsConfig = service.config.http!.tls;
    if (tlsConfig !== null) this.#tls.use(tlsConfig);
    const accept = this.#engine === socketEngine ? (client: unknown) => this.#onSocket(client as net.Socket) : this.#onClient;
    this.#server = await this.#engine.listen(bindHost(service), service.config.listen.port, 1024, accept,
      (err) => acceptFailed(this.#log, this.#resources, service.name, err), this.#reusePort);
    this.#address = this.#server.address();
    this.#sweeper.start();
  }

  address(): Endpoint {
    if (this.#address === null) throw new Error(`service ${this.service.name} is not listening`);
    return this.#address;
  }

  /** Member connections opened and idle now (tests and the dashboard read them). */
  get memberConnections(): MemberConnections {
    return this.#ctx.members;
  }

  /**
   * Stops accepting. Idle keep-alive clients are closed now; a request in progress finishes
   * and its connection closes after it. Idle member connections close.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#server?.close();
    this.#server = null;
    for (const conn of this.#connections) conn.shutdown();
    // no request has begun on these: nothing to finish
    for (const raw of this.#pending) raw.destroy();
    this.#pending.clear();
    for (const raw of this.#undecided.keys()) raw.destroy();
    this.#undecided.clear();
    this.#ctx.members.close();
    if (this.#connections.size === 0) this.#sweeper.stop();
  }

  failed(conn: HttpConnection | H2Session | null, err: unknown): void {
    connectionFailed(this.#log, this.#resources, this.service.name, conn?.id, err);
  }

  /** An HTTP/2 client broke a protocol bound (a flood): its connection is closed. */
  refused(session: H2Session, reason: string): void {
    this.#resources.http2Refused(this.#log, this.service.name, session.client.address, reason);
  }

  forget(conn: HttpConnection | H2Session): void {
    this.#connections.delete(conn);
    if (this.#clientOnly.delete(conn)) this.#resources.clientOnlyConnections--;
    this.#admission.release(conn);
    if (this.#closed && this.#connections.size === 0) this.#sweeper.stop();
  }

  // The ways in from the event loop (an accept, a PROXY header read) catch what escapes them: a
  // throw ends that one client, never the process. A connection guards its own events.

  /** A plain http client on the stream engine. */
  #onClient = (client: unknown): void => {
    try {
      const address = this.#admission.admit(this.#engine, client, this.#table.size);
      if (address === null) return;
      // counted under the connection, which forget() releases
      this.#admission.count(this.#adopt(client, null, false), address);
    } catch (err) {
      this.failed(null, err);
    }
  };

  #onSocket = (raw: net.Socket): void => {
    try {
      this.#admitSocket(raw);
    } catch (err) {
      this.failed(null, err);
      raw.destroy();
    }
  };

  #admitSocket(raw: net.Socket): void {
    const address = this.#admission.admit(this.#engine, raw, this.#table.size + this.#pending.size);
    if (address === null) return;
    // under TLS or a PROXY header the raw socket lives as long as the connection
    if (this.#admission.count(raw, address)) raw.once('close', () => this.#admission.release(raw));
    if (!this.service.config.acceptProxy) return this.#accept(raw, null);
    // A balancer in front says who the client is: read its PROXY header before any request.
    raw.on('error', noop);
    this.#pending.add(raw);
    readProxyHeader(raw, this.service.config.http!.timeouts.headers, (result) => {
      this.#pending.delete(raw);
      if (result.error !== null || raw.destroyed) {
        // (a client closed by our own stop was not refused)
        if (result.error !== null && !this.#closed) this.#resources.proxyHeaderRefused(this.#log, this.service.name, raw.remoteAddress ?? '', result.error);
        raw.destroy();
        return;
      }
      try {
        this.#accept(raw, result.addresses?.source ?? null);
      } catch (err) {
        this.failed(null, err);
        raw.destroy();
      }
    });
  }

  #accept(raw: net.Socket, client: Endpoint | null): void {
    const http = this.service.config.http!;
    let socket = raw;
    if (http.tls !== null) {
      try {
        this.#tls.use(http.tls); // a reload may have brought other certificates
      } catch (err) {
        this.#log.error({ service: this.service.name, err }, 'cannot use the certificates; keeping the previous ones');
      }
      raw.on('error', noop);
      if (!this.#tls.ready) {
        raw.destroy();
        return;
      }
      // after a PROXY header, what followed it (the ClientHello) was put back on the socket's
      // stream, where TLS reads it first (tested)
      socket = this.#tls.wrap(raw);
      if (this.#tls.offersH2) return this.#afterHandshake(socket, client);
    } else if (http.http2.h2c) {
      return this.#sniff(raw, client);
    }
    this.#adopt(socket, client, http.tls !== null);
  }

  /** Waits for `socket` to say which protocol it speaks, within the headers timeout. */
  #undecide(socket: net.Socket): void {
    this.#undecided.set(socket, Date.now() + this.service.config.http!.timeouts.headers);
    socket.once('close', () => this.#undecided.delete(socket));
  }

  /** The handshake decides: h2 or HTTP/1.1 (a client without ALPN speaks HTTP/1.1). */
  #afterHandshake(socket: net.Socket, client: Endpoint | null): void {
    socket.on('error', noop);
    this.#undecide(socket);
    socket.once('secure', () => {
      if (!this.#undecided.delete(socket) || socket.destroyed) return;
      try {
        const secured = socket as net.Socket & { alpnProtocol?: string | false; secureConnecting?: boolean };
        // A TLSSocket made outside a tls.Server keeps secureConnecting set after its handshake,
        // and http2 would wait on it for a 'secureConnect' that never comes: it is done.
        secured.secureConnecting = false;
        if (secured.alpnProtocol === 'h2') this.#adoptH2(socket, client, true);
        else this.#adopt(socket, client, true);
      } catch (err) {
        this.failed(null, err);
        socket.destroy();
      }
    });
  }

  /** h2c: the HTTP/2 preface (RFC 9113 3.4) starts an HTTP/2 connection; anything else is HTTP/1. */
  #sniff(raw: net.Socket, client: Endpoint | null): void {
    raw.on('error', noop);
    this.#undecide(raw);
    let seen: Buffer | null = null;
    const onData = (chunk: Buffer): void => {
      seen = seen === null ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const h2 = seen.compare(PREFACE, 0, n, 0, n) === 0;
      // a prefix of the preface could still be an HTTP/1 method (P...): wait for more
      if (h2 && n < PREFACE.length) return;
      raw.off('data', onData);
      raw.pause();
      raw.unshift(seen);
      if (!this.#undecided.delete(raw) || raw.destroyed) return;
      try {
        if (h2) this.#adoptH2(raw, client, false);
        else this.#adopt(raw, client, false);
      } catch (err) {
        this.failed(null, err);
        raw.destroy();
      }
    };
    raw.on('data', onData);
    raw.resume(); // a socket accepted paused (pauseOnConnect) would not flow for a listener alone
  }

  #adoptH2(socket: net.Socket, client: Endpoint | null, https: boolean): void {
    const session = new H2Session(this.#ctx, socket, https, this.#table, this, client);
    this.#connections.add(session);
    this.#countClientOnly(session);
    if (this.#closed) session.shutdown();
  }

  #adopt(accepted: unknown, client: Endpoint | null, https: boolean): HttpConnection {
    const conn = new HttpConnection(this.#ctx, accepted, this.#engine, https, this.#table, this, client);
    this.#connections.add(conn);
    this.#countClientOnly(conn);
    if (this.#closed) conn.shutdown();
    return conn;
  }

  /**
   * A client counted in the budget as its one descriptor, its own: every HTTP/2 client (its
   * streams' HTTP/1.1 member connections are counted as they are held, however many), and a client
   * of a service whose pool speaks HTTP/2 to its members (its requests ride the pool's shared
   * sessions, counted apart; one routed to an HTTP/1.1 pool has its member connection counted as
   * held, as an HTTP/2 client's stream has). Other HTTP/1.1 clients count two: their own and the
   * one member connection they may hold.
   */
  #countClientOnly(conn: HttpConnection | H2Session): void {
    if (conn instanceof HttpConnection) {
      const protocol = this.service.dispatcher.pool.config.memberProtocol;
      if (protocol === undefined || protocol === 'http1') return;
      conn.countedAlone = true;
    }
    this.#clientOnly.add(conn);
    this.#resources.clientOnlyConnections++;
  }

  #sweep(): void {
    const now = Date.now();
    for (const conn of this.#connections) {
      const deadline = conn.deadline;
      if (deadline !== 0 && deadline <= now) conn.expire();
    }
    for (const [socket, deadline] of this.#undecided) if (deadline <= now) socket.destroy();
    this.#ctx.members.sweep(now);
  }
}

function noop(): void {}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

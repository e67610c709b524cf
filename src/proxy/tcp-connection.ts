// One client connection of a tcp service: choose a member, connect (trying others on failure),
// then stream both ways until both sides are done. The object is also the connection's entry
// in the connection table, so a connection costs one object and one Map slot.

import net from 'node:net';
import { hashString, usesHash } from '../balance/index.ts';
import type { ConnectionEntry, ConnectionTable, Endpoint } from '../runtime/connection-table.ts';
import type { Member } from '../runtime/member.ts';
import type { ServicePersistence } from '../runtime/persistence.ts';
import type { Pool, Waiter } from '../runtime/pool.ts';
import type { Service } from '../runtime/service.ts';
import type { HandshakeReader } from '../persistence/tls-session.ts';
import { readProxyHeader } from './proxy-header-reader.ts';
import { proxyHeader } from './proxy-protocol.ts';
import { readClientHello, watchServerHello } from './tls-hello.ts';

/** As large as what Node reads at once by default. */
const READ_BUFFER_SIZE = 64 * 1024;
const SHARED_READ_BUFFER = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);

export class TcpConnection implements ConnectionEntry {
  readonly id: number;
  readonly protocol = 'tcp' as const;
  readonly service: string;
  readonly startedAt = Date.now();
  member: Member | null = null;

  readonly #table: ConnectionTable;
  readonly #svc: Service;
  /** the service's persistence when the client arrived (null: none), and the client's key */
  readonly #persistence: ServicePersistence | null;
  #key: string | null = null;
  /** tls-session: the client bytes read before connecting, and the watch on the member's reply */
  #head: Buffer | null = null;
  #watch: HandshakeReader | null = null;
  /** the pool as it was when the client arrived: a reload does not move a live connection */
  readonly #pool: Pool;
  readonly #client: net.Socket;
  #upstream: net.Socket | null = null;
  // Addresses cost a getpeername/getsockname each: read when first asked, then kept.
  #clientEndpoint: Endpoint | null = null;
  #vipEndpoint: Endpoint | null = null;
  #localEndpoint: Endpoint | null = null;
  #tried: Member[] | null = null;
  #waiter: Waiter | null = null;
  #piping = false;
  /** this connection moves bulk: it reads into a buffer of its own (see #fromUpstream) */
  #bulk = false;
  #own: Buffer | null = null;
  #open = 2; // while piping: client and upstream sockets not yet closed
  #finished = false;

  constructor(client: net.Socket, service: Service, table: ConnectionTable) {
    this.id = table.nextId();
    this.service = service.name;
    this.#table = table;
    this.#svc = service;
    this.#pool = service.pool;
    this.#persistence = service.persistence;
    this.#client = client;
  }

  get client(): Endpoint {
    const socket = this.#client;
    return (this.#clientEndpoint ??= { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 });
  }

  get vip(): Endpoint {
    const socket = this.#client;
    return (this.#vipEndpoint ??= { address: socket.localAddress ?? '', port: socket.localPort ?? 0 });
  }

  get local(): Endpoint | null {
    const socket = this.#upstream;
    if (!this.#piping || socket === null) return null;
    return (this.#localEndpoint ??= { address: socket.localAddress ?? '', port: socket.localPort ?? 0 });
  }

  get bytesIn(): number {
    return this.#client.bytesRead;
  }

  get bytesOut(): number {
    return this.#client.bytesWritten;
  }

  start(): void {
    const client = this.#client;
    client.on('error', this.#onError);
    client.on('close', this.#onClientClose);
    this.#table.add(this);
    if (!this.#svc.config.acceptProxy) return this.#begin();
    // A balancer in front says who the client is: that address is the client from here on
    // (persistence key, hash, PROXY header to members, connection table).
    readProxyHeader(client, this.#svc.config.timeouts.connect, (result) => {
      if (result.error !== null) return reset(client);
      if (result.addresses !== null) {
        this.#clientEndpoint = result.addresses.source;
        this.#vipEndpoint = result.addresses.destination;
      }
      this.#begin();
    });
  }

  #begin(): void {
    const client = this.#client;
    const persistence = this.#persistence;
    if (persistence === null) return this.#dispatch();
    if (persistence.config.method !== 'tls-session') {
      this.#key = persistence.clientKey(this.client.address);
      return this.#dispatch();
    }
    readClientHello(client, this.#svc.config.timeouts.connect, (hello, head) => {
      this.#key = hello === null ? null : persistence.helloKey(hello);
      this.#head = head;
      this.#dispatch();
    });
  }

  abort(): void {
    this.#client.destroy();
    this.#upstream?.destroy();
  }

  /** Pick a member and connect; when all are full, wait in the pool's queue; when none is usable, refuse. */
  #dispatch(): void {
    const pool = this.#pool;
    // only the hashing algorithms read the client's hash: the others skip the getpeername
    const hash = usesHash(pool.algorithm) ? hashString(this.client.address) : 0;
    const member = this.#acquire(hash, this.#tried) ?? (this.#tried === null ? undefined : pool.acquire(hash, null));
    if (member !== undefined) return this.#connect(member);
    if (!pool.hasAvailable()) {
      // No member is up and enabled: say so at once (a reset) rather than leave the client hanging.
      reset(this.#client);
      return;
    }
    // Every member is at its limit: wait for room, or be turned away cleanly if the queue is full.
    if (pool.queueFull) return this.#turnAway();
    this.#waiter = pool.enqueue(hash, this.#onQueued);
  }

  /** The member for this client: persistence's choice when the service has it, else the algorithm's. */
  #acquire(hash: number, skip: readonly Member[] | null): Member | undefined {
    const persistence = this.#persistence;
    return persistence === null ? this.#pool.acquire(hash, skip) : persistence.acquire(this.#pool, this.#key, hash, skip);
  }

  #onQueued = (member: Member | undefined): void => {
    this.#waiter = null;
    if (member === undefined) return this.#turnAway();
    if (this.#key !== null) this.#persistence!.picked(this.#key, member);
    this.#connect(member);
  };

  /**
   * A clean close (FIN) with nothing served: the balancer is full, not broken. What the client
   * sent is read and dropped, since closing with unread bytes would send a reset instead.
   */
  #turnAway(): void {
    const client = this.#client;
    client.resume();
    client.setTimeout(this.#svc.config.timeouts.connect, this.#onIdle);
    client.end();
  }

  #connect(member: Member): void {
    this.member = member;
    const config = this.#svc.config;
    const started = performance.now();
    const upstream = net.connect({
      host: member.ip, port: member.port, allowHalfOpen: true, noDelay: true,
      onread: { buffer: this.#readBuffer, callback: this.#fromUpstream },
    });
    this.#upstream = upstream;
    upstream.setTimeout(config.timeouts.connect);
    const onTimeout = (): void => {
      upstream.destroy(new Error(`connect timeout after ${config.timeouts.connect} ms`));
    };
    const onFailure = (): void => {
      upstream.off('timeout', onTimeout);
      this.#connectFailed(member);
    };
    upstream.once('timeout', onTimeout);
    upstream.once('error', onFailure);
    upstream.once('connect', () => {
      upstream.off('timeout', onTimeout);
      upstream.off('error', onFailure);
      member.recordLatency(performance.now() - started);
      this.#established(upstream);
    });
  }

  #connectFailed(member: Member): void {
    member.failed++;
    this.#pool.release(member, 0, 0);
    this.member = null;
    this.#upstream = null;
    if (this.#client.destroyed) return; // its close event finishes the entry
    (this.#tried ??= []).push(member);
    if (this.#tried.length > this.#svc.config.retries) {
      reset(this.#client);
      return;
    }
    this.#dispatch();
  }

  #established(upstream: net.Socket): void {
    const client = this.#client;
    this.#piping = true;
    const config = this.#svc.config;
    if (config.proxyProtocol !== null) {
      upstream.write(proxyHeader(config.proxyProtocol, 'tcp', this.client, this.vip));
    }
    if (this.#persistence?.config.method === 'tls-session') {
      // what the client sent while its ClientHello was read goes first; the member's answer is watched
      if (this.#head !== null) upstream.write(this.#head);
      this.#head = null;
      this.#watch = watchServerHello(this.#persistence, this.member!);
    }
    upstream.on('error', this.#onError);
    upstream.on('close', this.#onUpstreamClose);
    // One idle timer is enough: every byte either way is read or written on the client socket,
    // and each of those refreshes it. A second one on the member socket would only double the
    // timer work per chunk. (The connect timeout set above is cleared on connect.)
    upstream.setTimeout(0);
    client.setTimeout(config.timeouts.idle, this.#onIdle);
    // Forwarding by hand rather than pipe(): fewer listeners per connection and less work per
    // chunk. A full write buffer pauses the reading side until 'drain' (backpressure); a FIN on
    // one side becomes a FIN on the other while the opposite direction keeps flowing (half-close).
    client.on('data', this.#fromClient);
    if (client.isPaused()) client.resume(); // tls-session: reading the ClientHello paused it
    client.on('end', this.#clientEnded);
    upstream.on('end', this.#upstreamEnded);
    upstream.on('drain', this.#resumeClient);
    client.on('drain', this.#resumeUpstream);
    // A client that sent its FIN (with no bytes) while we were connecting has already ended:
    // its 'end' came before our listener, so pass the FIN on now.
    if (client.readableEnded) upstream.end();
  }

  #fromClient = (chunk: Buffer): void => {
    if (!this.#upstream!.write(chunk)) this.#client.pause();
  };

  /**
   * The member's bytes arrive in one buffer shared by every connection (Node's `onread`): no
   * stream machinery per read, and small replies are copied into Node's pooled small buffers
   * instead of each read getting a 64 KiB allocation. The copy is what makes sharing safe: a
   * write that stays queued keeps pointing at its own bytes.
   * A read that fills the buffer means a bulk transfer: from then on this connection reads into
   * a buffer of its own and writes it without copying; when a write stays queued (it still
   * points into that buffer), the next read gets a fresh one. Memory goes only to connections
   * that move bulk, as HAProxy allocates its buffers on demand.
   */
  #fromUpstream = (length: number, buffer: Buffer): boolean => {
    if (buffer !== SHARED_READ_BUFFER) return this.#forwardOwn(buffer.subarray(0, length));
    if (length === READ_BUFFER_SIZE) this.#bulk = true;
    const chunk = Buffer.allocUnsafe(length);
    buffer.copy(chunk, 0, 0, length);
    if (this.#watch !== null && this.#watch.push(chunk) !== 'reading') this.#watch = null;
    return this.#client.write(chunk);
  };

  #forwardOwn(chunk: Buffer): boolean {
    if (this.#watch !== null && this.#watch.push(Buffer.from(chunk)) !== 'reading') this.#watch = null;
    const client = this.#client;
    const flowing = client.write(chunk);
    if (client.writableLength !== 0) this.#own = null;
    return flowing;
  }

  /** Where the next read of the member's bytes goes (called by Node before every read). */
  #readBuffer = (): Buffer => {
    if (!this.#bulk) return SHARED_READ_BUFFER;
    return (this.#own ??= Buffer.allocUnsafeSlow(READ_BUFFER_SIZE));
  };

  #resumeClient = (): void => {
    this.#client.resume();
  };

  #resumeUpstream = (): void => {
    this.#upstream!.resume();
  };

  #clientEnded = (): void => {
    finish(this.#upstream!);
  };

  #upstreamEnded = (): void => {
    finish(this.#client);
  };

  #onIdle = (): void => {
    this.abort();
  };

  #onError = (): void => {
    // A reset on one side is passed on as a reset on the other, as a TCP proxy should.
    reset(this.#client);
    if (this.#upstream !== null) reset(this.#upstream);
  };

  #onClientClose = (): void => {
    if (!this.#piping) {
      // queued or connecting: nothing has flowed yet, so give everything back now
      if (this.#waiter !== null) this.#pool.cancel(this.#waiter);
      this.#waiter = null;
      this.#upstream?.destroy();
      this.#upstream = null;
      return this.#finish();
    }
    // Normally the member has finished too; what it still has to flush is let go first.
    const upstream = this.#upstream!;
    if (!upstream.destroyed) upstream.destroySoon();
    this.#closed();
  };

  #onUpstreamClose = (): void => {
    if (!this.#client.destroyed) this.#client.destroySoon();
    this.#closed();
  };

  #closed(): void {
    if (--this.#open === 0) this.#finish();
  }

  #release(): void {
    if (this.member !== null && this.#key !== null) this.#persistence!.ended(this.#key, this.member);
    if (this.member !== null) this.#pool.release(this.member, this.bytesIn, this.bytesOut);
    this.member = null;
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#release();
    this.#table.remove(this);
  }
}

/**
 * Closes with a TCP reset where one can still be sent. After our FIN (end()) the kernel refuses
 * a reset (uv_tcp_close_reset fails) and Node then never emits 'close', so such a socket is
 * destroyed plainly instead.
 */
function reset(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded || socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

/**
 * Passes a FIN on. When the socket's own peer has finished too and nothing waits to be written,
 * closing it sends that FIN without a shutdown() first: one system call less per connection.
 */
function finish(socket: net.Socket): void {
  if (socket.readableEnded && socket.writableLength === 0 && !socket.destroyed) socket.destroy();
  else socket.end();
}

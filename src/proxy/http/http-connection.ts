// One client connection of an http service: read a request head (bounded, within the headers
// timeout), run its exchange, then wait for the next request (keep-alive) or close. Requests a
// client pipelines wait their turn. The object is also the connection's entry in the
// connection table, showing the request in progress and its member.
// It is the HTTP/1 side of the client: the exchange hands it a response as a message (head, body,
// trailers, end; our own errors) and it puts that on the wire: the status line and head, the
// Connection field and whether the connection is kept, interim heads, the switch to a tunnel.

import tls from 'node:tls';
import type { ConnectionEntry, ConnectionTable, Endpoint } from '../../runtime/connection-table.ts';
import { HTTP1_1 } from '../../runtime/request-counts.ts';
import { hashString } from '../../balance/index.ts';
import type { MemberProtocol } from '../../config/member-protocol-schema.ts';
import type { Member } from '../../runtime/member.ts';
import { accessLogging, logRequest } from './access-log.ts';
import { ClientBytes, copyOf } from './client-bytes.ts';
import { forwardedAddress } from './client-address.ts';
import type { ClientStream } from './client-stream.ts';
import { Deadline, type HttpServiceContext } from './context.ts';
import { errorPageFor } from './error-pages.ts';
import { Exchange } from './exchange.ts';
import { clientResponseHead, interimHead } from './head-writer.ts';
import { latin1 } from './latin1.ts';
import { RequestClock } from './request-clock.ts';
import { parseRequestHead, type RequestHead } from './request-head.ts';
import type { ResponseHead } from './response-head.ts';
import { errorResponse, HttpError, plainResponse, redirectResponse } from './responses.ts';
import type { Stream, StreamEngine, StreamOwner } from '../stream.ts';

/** What the connection tells its listener. */
export interface ConnectionOwner {
  forget(conn: HttpConnection): void;
  /** a throw escaped the connection's logic (logged and counted there): the connection is ended */
  failed(conn: HttpConnection, err: unknown): void;
}

/** After an error response, what the client still sends is read (and dropped) this long at most. */
const LINGER = 2_000;
/** a first body part up to this size goes out in one write with the response head */
const SMALL_BODY = 4096;

export class HttpConnection implements ConnectionEntry, ClientStream, StreamOwner {
  readonly id: number;
  readonly protocol = 'tcp' as const;
  readonly service: string;
  readonly client: Endpoint;
  readonly startedAt = Date.now();
  readonly https: boolean;
  readonly http2 = false;
  /** set by the listener when the budget counts it as its own descriptor alone (its pool speaks HTTP/2) */
  countedAlone = false;
  readonly http = '1.1' as const;
  member: Member | null = null;
  /** when the current deadline passes (ms since epoch); 0 = none. The listener's sweep reads it. */
  deadline = 0;
  /** when the current (or next) request's head began to arrive: timeouts.request runs from it */
  requestStart = 0;
  /** the time read for a head whose exchange is starting in the same call, else -1 (#setDeadline): one clock read per head */
  #headNow = -1;

  readonly #ctx: HttpServiceContext;
  readonly #stream: Stream;
  readonly #table: ConnectionTable;
  readonly #owner: ConnectionOwner;
  readonly #in = new ClientBytes();
  #kind: number = Deadline.NONE;
  #vip: Endpoint | null = null;
  #forwardedClient: string | null = null;
  /** https: the TLS socket, for the server name the client sent; null for plain http */
  readonly #tls: tls.TLSSocket | null;
  /** the server name, lowercase, once read; undefined until then */
  #serverName: string | null | undefined = undefined;
  #hash = -1;
  #exchange: Exchange | null = null;
  #pumping = false;
  /** the listener is stopping: close after the exchange in progress */
  #closing = false;
  /** we sent our FIN (or are about to, once the response is out) */
  #ended = false;
  #clientEnded = false;
  #closed = false;
  #tunnel = false;
  #crashed = false;
  /** the response in progress says `connection: close`: the connection ends after it */
  #closeAfter = false;
  /**
   * A write to the client was queued (it is not reading what it asked for): the next pipelined
   * request waits for the drain, so that a client pipelining small requests it never reads the
   * answers to cannot have furiwake hold them all.
   */
  #blocked = false;
  /** reading paused for the exchange (request body backpressure) and for a pipelined backlog */
  #pausedForBody = false;
  #pausedForBacklog = false;

  /**
   * `accepted`: the client as `engine` accepted it (a net.Socket or tls.TLSSocket for the sockets
   * engine). `client`: the client a PROXY header named, when the service accepts one; else the peer.
   */
  constructor(ctx: HttpServiceContext, accepted: unknown, engine: StreamEngine, https: boolean, table: ConnectionTable, owner: ConnectionOwner, client: Endpoint | null = null) {
    this.id = table.nextId();
    this.service = ctx.service.name;
    this.https = https;
    this.#ctx = ctx;
    this.#table = table;
    this.#owner = owner;
    this.#tls = accepted instanceof tls.TLSSocket ? accepted : null;
    // request bytes wait in #in between reads: the chunks must stay ours
    const stream = (this.#stream = engine.adopt(accepted, this, true));
    // a request head is only read: what is kept of a read, or written, is copied (#onData)
    stream.borrows = true;
    this.client = client ?? stream.remote();
    table.add(this);
    stream.resume();
    // The first request (and, for https, the handshake before it) must come within the headers timeout.
    this.#headDeadline();
  }

  /** The client's address as written toward members, worked out once per connection. */
  get forwardedClient(): string {
    return (this.#forwardedClient ??= forwardedAddress(this.client.address));
  }

  /** The server name (SNI) of the client's TLS handshake, lowercase; null for plain http or none sent. */
  get serverName(): string | null {
    if (this.#serverName === undefined) {
      const name = this.#tls?.servername;
      this.#serverName = typeof name === 'string' && name !== '' ? name.toLowerCase() : null;
    }
    return this.#serverName;
  }

  /** The service address the client reached; read when asked (getsockname). */
  get vip(): Endpoint {
    return (this.#vip ??= this.#stream.local());
  }

  get hash(): number {
    if (this.#hash === -1) this.#hash = hashString(this.client.address);
    return this.#hash;
  }

  /** The request in progress, for the connection table; made when asked. */
  get request(): { method: string; path: string } | null {
    const ex = this.#exchange;
    return ex === null ? null : { method: ex.req.method, path: ex.req.target };
  }

  /** h2 or h2c when the request in progress's member is spoken to in HTTP/2, for the connection table. */
  get memberProtocol(): Exclude<MemberProtocol, 'http1'> | null {
    return this.#exchange?.memberProtocol ?? null;
  }

  /** The balancer's address on the member side of the request in progress. */
  get local(): Endpoint | null {
    return this.#exchange?.local ?? null;
  }

  get bytesIn(): number {
    return this.#stream.bytesRead;
  }

  get bytesOut(): number {
    return this.#stream.bytesWritten;
  }

  get closing(): boolean {
    return this.#closing || this.#clientEnded;
  }

  abort(): void {
    this.#stream.close();
  }

  /** An operator ends it: as abort, the close gives up the exchange and its member connection. */
  terminate(): void {
    this.#stream.close();
  }

  /** The listener is stopping: an idle connection closes now, a busy one after its exchange. */
  shutdown(): void {
    this.#closing = true;
    if (this.#exchange === null && this.#in.length === 0) this.#end();
  }

  // ---- reading requests -------------------------------------------------------------------

  // Every way in from the event loop (the client's stream, the listener's sweep; the member's
  // stream and the pool's queue come through the exchange) has one try/catch at its boundary: a
  // throw that escapes the logic ends this connection (crash), never the process.

  streamData(stream: Stream, chunk: Buffer): boolean {
    const lent = stream.lent === true;
    try {
      // a body or a tunnel's bytes go on to the member, where a write may keep them: copied
      this.#onData(lent && this.#exchange !== null ? copyOf(chunk) : chunk, lent && this.#exchange === null);
    } catch (err) {
      this.crash(err);
    }
    // what waits for a later read (a head in pieces, pipelined requests) is copied out of a lent chunk now
    if (lent) this.#in.own();
    return true; // reading stops only when the exchange or the backlog says so
  }

  streamEnd(): void {
    try {
      this.#onEnd();
    } catch (err) {
      this.crash(err);
    }
  }

  streamDrained(): void {
    try {
      this.#blocked = false;
      const ex = this.#exchange;
      if (ex !== null) ex.clientDrain();
      else if (this.#in.length > 0) this.#pump(); // a pipelined request waited for this
    } catch (err) {
      this.crash(err);
    }
  }

  streamConnected(): void {}

  streamError(): void {
    // streamClosed follows and does the cleanup; a reset client is a normal event for a proxy.
  }

  streamClosed(): void {
    this.#closed = true;
    this.deadline = 0;
    const ex = this.#exchange;
    this.#exchange = null;
    // gone from the table first: a throw while giving the exchange back must not keep the entry
    this.#table.remove(this);
    this.#owner.forget(this);
    try {
      ex?.abort();
    } catch (err) {
      this.crash(err);
    }
  }

  /**
   * The last resort: a throw escaped this connection's logic (a bug). It is reported (logged and
   * counted), and the client is reset; its close then gives back the exchange, its member
   * connection and its place in the table.
   */
  crash(err: unknown): void {
    if (this.#crashed) return;
    this.#crashed = true;
    try {
      this.#owner.failed(this, err);
    } catch {
      // a reporter that throws must not stop the reset below
    }
    try {
      this.#stream.reset();
    } catch {
      // nothing more can be done for this stream
    }
  }

  /** `lent`: the chunk is valid only during this call (a request head only read from it; see streamData) */
  #onData(chunk: Buffer, lent: boolean): void {
    if (this.#ended) return; // lingering after our last response: what comes is dropped
    const ex = this.#exchange;
    if (ex !== null && this.#tunnel) return ex.tunnelData(chunk);
    if (ex !== null && !ex.requestDone && this.#in.length === 0) {
      // the hot path of a request body: straight from the chunk to the member
      if (this.#feedBody(ex, chunk) && this.#in.length > 0) this.#pump();
      return;
    }
    this.#in.push(chunk, lent);
    this.#pump();
  }

  /**
   * Request body bytes for the exchange; what follows the body's end waits in #in for the next
   * request. A malformed body fails the exchange (a 400) and what came with it is dropped: false.
   */
  #feedBody(ex: Exchange, data: Buffer): boolean {
    let stop: number;
    try {
      stop = ex.body(data, 0, data.length);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err; // a bug, not the client's fault: the connection's catch takes it
      ex.bodyFailed(err);
      return false;
    }
    if (stop < data.length) this.#in.push(data.subarray(stop));
    return true;
  }

  /** Moves what the client sent along: into the exchange's body, or into the next exchange. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (;;) {
        const ex = this.#exchange;
        if (ex !== null) {
          if (this.#in.length === 0) break;
          if (this.#tunnel) {
            ex.tunnelData(this.#in.takeAll());
            break;
          }
          if (!ex.requestDone) {
            if (!this.#feedBody(ex, this.#in.takeAll())) break;
            continue;
          }
          // a pipelined request waits for the response in progress
          this.#boundBacklog();
          break;
        }
        if (this.#ended || this.#closed) break;
        if (this.#blocked) {
          // ... and for the client to take what was written to it
          this.#boundBacklog();
          break;
        }
        if (!this.#nextExchange()) break;
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Requests waiting their turn: only so much of them is read. */
  #boundBacklog(): void {
    if (this.#in.length > this.#ctx.service.config.http!.limits.headers && !this.#pausedForBacklog) {
      this.#pausedForBacklog = true;
      this.#stream.pause();
    }
  }

  /** Reads a request head from what has come and starts its exchange; false when there is none yet. */
  #nextExchange(): boolean {
    const bytes = this.#in;
    const http = this.#ctx.service.config.http!;
    // Empty lines before a request line are allowed (RFC 9112 2.2), and dropped.
    let from = 0;
    while (from + 1 < bytes.length && bytes.at(from) === 0x0d && bytes.at(from + 1) === 0x0a) from += 2;
    if (from > 0) bytes.drop(from);
    if (bytes.length === 0) return false;
    // The headers timeout runs from a head's first byte: a slow client cannot stretch it.
    const now = this.#kind !== Deadline.HEADERS ? this.#headDeadline() : -1;
    const limits = http.limits;
    const end = bytes.headEnd(0);
    if (end === -1) {
      // A head with a bare LF or CR never ends in CRLFCRLF as we read it (though another reader
      // may end it): refused now, not when the headers timeout passes.
      if (bytes.bareLineEnd()) this.#reject(new HttpError(400, 'bare LF or CR in the request head'));
      else if (bytes.length > limits.headers) this.#reject(new HttpError(431, `request head larger than ${limits.headers} bytes`));
      else if (bytes.length > limits.requestLine && !bytes.hasLineEnd(0, limits.requestLine)) {
        this.#reject(new HttpError(414, `request line longer than ${limits.requestLine} bytes`));
      }
      return false;
    }
    if (end > limits.headers) {
      this.#reject(new HttpError(431, `request head larger than ${limits.headers} bytes`));
      return false;
    }
    let req;
    try {
      req = parseRequestHead(bytes.latin1(0, end), limits, http.forwarded !== 'none', bytes.raw);
    } catch (err) {
      this.#reject(err as HttpError);
      return false;
    }
    bytes.drop(end);
    this.#setDeadline(0, Deadline.NONE);
    const logging = accessLogging(http, this.#ctx.log);
    const ex = new Exchange(this.#ctx, this, req, logging);
    this.#exchange = ex;
    this.#closeAfter = false;
    // The body bytes that came with the head are read before anything goes to a member: a
    // malformed chunked body in the first packet is refused with nothing sent.
    if (!ex.requestDone && bytes.length > 0 && !this.#feedBody(ex, bytes.takeAll())) return true;
    // a head that came whole in this read: its exchange's first deadline counts from the time read for it
    this.#headNow = now;
    try {
      ex.start();
    } finally {
      this.#headNow = -1;
    }
    return true;
  }

  /** A request we cannot read: answered with its error, then the connection closes. */
  #reject(error: HttpError): void {
    const status = error instanceof HttpError ? error.status : 400;
    this.#write(errorResponse(status, error.message, { close: true, page: errorPageFor(this.#ctx.service.config.http!, status) }));
    this.#ctx.counts?.count(this.#ctx.service.name, null, status, HTTP1_1, null);
    if (accessLogging(this.#ctx.service.config.http!, this.#ctx.log)) {
      const line = { client: this.client.address, service: this.service, member: null, protocol: 'HTTP/1.1', method: '', path: '', status, bytes: 0 };
      logRequest(this.#ctx.log, line, new RequestClock());
    }
    this.#end();
  }

  // ---- the response, on the wire (ClientStream) --------------------------------------------

  /** The exchange in progress's request (the exchange calls only while it is in progress). */
  get #req(): RequestHead {
    return this.#exchange!.req;
  }

  /** An HTTP/1.0 client cannot read chunks: it gets the payload, and the close ends it. */
  passesRawBody(res: ResponseHead): boolean {
    return res.body !== 'chunked' || this.#req.minor !== 0;
  }

  sendInterim(res: ResponseHead): boolean {
    // an HTTP/1.0 client does not expect 1xx heads (RFC 9110 15.2)
    return this.#req.minor !== 1 || this.#write(interimHead(res));
  }

  sendHead(res: ResponseHead, requestDone: boolean, body: Buffer | null, end: number, lent = false): boolean {
    const req = this.#req;
    const dechunk = !this.passesRawBody(res);
    // a close-delimited body (or a dechunked one, for HTTP/1.0) ends with the connection
    const close = (this.#closeAfter = this.#mustClose(req, requestDone) || res.body === 'close' || dechunk);
    const head = clientResponseHead(res, { minor: req.minor, close, dechunk });
    if (body === null || end === 0) return this.#write(head);
    // head and a small body in one write, as they came in one read (the common case)
    if (end <= SMALL_BODY) return this.#write(head + latin1(body, 0, end));
    this.#write(head);
    const part = end === body.length ? body : body.subarray(0, end);
    return this.#write(lent ? copyOf(part) : part);
  }

  sendBody(chunk: Buffer): boolean {
    return this.#write(chunk);
  }

  get signalsHeldWrites(): boolean {
    return this.#stream.signalsHeldWrites;
  }

  sendTrailers(): void {
    // Only an HTTP/1.0 client gets a payload without its framing, and it cannot read trailers.
  }

  sendError(status: number, message: string, requestDone: boolean, retryAfter: number | undefined): void {
    const req = this.#req;
    const close = (this.#closeAfter = this.#mustClose(req, requestDone));
    this.#write(errorResponse(status, message, { close, retryAfter, head: req.method === 'HEAD', minor: req.minor, page: errorPageFor(this.#ctx.service.config.http!, status) }));
  }

  /** HTTP/1.1 cannot say "not processed": the exchange answers 503 with Retry-After. */
  refuse(): boolean {
    return false;
  }

  sendResponse(status: number, contentType: string, body: string, requestDone: boolean): void {
    const req = this.#req;
    const close = (this.#closeAfter = this.#mustClose(req, requestDone));
    this.#write(plainResponse(status, contentType, body, { close, head: req.method === 'HEAD', minor: req.minor }));
  }

  sendRedirect(status: number, location: string, requestDone: boolean): void {
    const req = this.#req;
    const close = (this.#closeAfter = this.#mustClose(req, requestDone));
    this.#write(redirectResponse(status, location, close, req.minor));
  }

  /**
   * The connection closes after this response: the client asked it, the listener is stopping,
   * or a request body we have not read to its end leaves the connection out of step.
   */
  #mustClose(req: RequestHead, requestDone: boolean): boolean {
    return !requestDone || !req.keepAlive || this.closing;
  }

  #write(data: string | Buffer): boolean {
    const stream = this.#stream;
    if (stream.closed || stream.writeEnded) return true;
    const flowing = typeof data === 'string' ? stream.writeLatin1(data) : stream.write(data);
    if (!flowing) this.#blocked = true;
    return flowing;
  }

  // ---- what else the exchange calls (ClientStream) ----------------------------------------

  pauseReading(): void {
    if (this.#pausedForBody) return;
    this.#pausedForBody = true;
    this.#stream.pause();
  }

  resumeReading(): void {
    if (!this.#pausedForBody) return;
    this.#pausedForBody = false;
    if (!this.#pausedForBacklog) this.#stream.resume();
  }

  setDeadline(ms: number): void {
    this.#setDeadline(ms, ms === 0 ? Deadline.NONE : Deadline.EXCHANGE);
  }

  startTunnel(res: ResponseHead, rest: Buffer): void {
    this.#write(clientResponseHead(res, { minor: 1, close: false, dechunk: false }));
    if (rest.length > 0) this.#write(rest);
    this.#tunnel = true;
    this.resumeReading();
    if (this.#in.length > 0) this.#pump();
  }

  /**
   * A response cut off: a reset, not a FIN, so that the client cannot take what it got for the
   * whole (an HTTP/1.0 client reads a dechunked body to the close).
   */
  destroy(): void {
    this.#stream.reset();
  }

  exchangeDone(reusable: boolean, now: number): void {
    this.#exchange = null;
    this.member = null;
    this.#tunnel = false;
    if (this.#closed) return;
    if (!reusable || this.#closeAfter || this.#closing || this.#clientEnded) return this.#end();
    if (this.#pausedForBody || this.#pausedForBacklog) {
      this.#pausedForBody = false;
      this.#pausedForBacklog = false;
      this.#stream.resume();
    }
    this.#setDeadline(this.#ctx.service.config.http!.timeouts.keepAlive, Deadline.KEEP_ALIVE, now);
    if (this.#in.length > 0) this.#pump();
  }

  // ---- timeouts, the end ------------------------------------------------------------------

  /** A head begins: it must be in within the headers timeout (and the whole request's, when shorter). Returns the time read. */
  #headDeadline(): number {
    const t = this.#ctx.service.config.http!.timeouts;
    const now = (this.requestStart = Date.now());
    this.#setDeadline(t.request > 0 ? Math.min(t.headers, t.request) : t.headers, Deadline.HEADERS, now);
    return now;
  }

  /** `now`: the time, when the caller has just read it (one clock read per event, not two) */
  #setDeadline(ms: number, kind: number, now = -1): void {
    this.#kind = kind;
    if (ms === 0) this.deadline = 0;
    else this.deadline = (now !== -1 ? now : this.#headNow !== -1 ? this.#headNow : Date.now()) + ms;
  }

  /** Called by the listener's sweep when `deadline` has passed. */
  expire(): void {
    try {
      this.#expire();
    } catch (err) {
      this.crash(err);
    }
  }

  #expire(): void {
    const kind = this.#kind;
    this.#setDeadline(0, Deadline.NONE);
    switch (kind) {
      case Deadline.HEADERS:
        if (this.#in.length > 0) {
          return this.#reject(new HttpError(408, `the request head did not arrive within ${this.#ctx.service.config.http!.timeouts.headers} ms`));
        }
        return this.#end();
      case Deadline.KEEP_ALIVE:
        return this.#end();
      case Deadline.EXCHANGE:
        this.#exchange?.deadline();
        return;
      case Deadline.LINGER:
        this.#stream.close();
        return;
    }
  }

  /** Our FIN after what was written; what the client still sends is read and dropped, briefly. */
  #end(): void {
    if (this.#ended || this.#closed) return;
    this.#ended = true;
    this.#stream.resume();
    this.#stream.end();
    if (this.#clientEnded) return; // both sides are done: the socket closes by itself
    this.#setDeadline(LINGER, Deadline.LINGER);
  }

  #onEnd(): void {
    this.#clientEnded = true;
    const ex = this.#exchange;
    if (ex !== null) {
      if (this.#tunnel) return ex.tunnelClientEnd();
      // A request cut short: nothing more will come, so nothing of it can be completed.
      if (!ex.requestDone) return ex.bodyFailed(new HttpError(400, 'the client closed before sending the whole request body'));
      // A client that half-closes after a complete request still reads (as HAProxy sees it):
      // it gets its response, with Connection: close, then the connection closes. A client
      // that is really gone resets when the response is written, which aborts the exchange.
      return;
    }
    if (this.#ended) {
      this.#stream.close();
      return;
    }
    this.#end();
  }
}

// One HTTP/2 stream from a client: one request, run by the same Exchange as an HTTP/1.1 request
// (routing, persistence, retries, forwarded fields, limits, access log), which talks to it in
// messages (client-stream.ts). Its head is translated to HTTP/1.1 (h2-heads.ts) and judged by
// the HTTP/1.1 parser; its body goes to the member as it comes (chunked when it has no length),
// paused while the member is not taking it, so the client's flow-control window closes. The
// response goes back as a header list, DATA and trailers; a write the client's window does not
// let out says false, and the exchange pauses the member until the stream drains.

import http2, { type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Endpoint } from '../../runtime/connection-table.ts';
import { HTTP2 } from '../../runtime/request-counts.ts';
import type { MemberProtocol } from '../../config/member-protocol-schema.ts';
import type { Member } from '../../runtime/member.ts';
import { accessLogging, logRequest } from './access-log.ts';
import type { ClientStream } from './client-stream.ts';
import type { HttpServiceContext } from './context.ts';
import { errorPageFor } from './error-pages.ts';
import { Exchange } from './exchange.ts';
import { closedBeforeEnd, onStreamClosing } from './h2-cut-short.ts';
import { chunkLine, fieldsToHeaders, headBytesOf, lastChunk, requestHeadText, responseHeaders } from './h2-heads.ts';
import { RequestClock } from './request-clock.ts';
import { parseRequestHead } from './request-head.ts';
import type { ResponseHead } from './response-head.ts';
import { errorText, HttpError } from './responses.ts';
import { grpcErrorHeaders, GrpcStatus, grpcStatusOf, grpcTimeout, isGrpc } from './grpc.ts';

const { NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;
/** where a node stream keeps its H2ClientStream, for the listeners all streams share */
const OWNER = Symbol('furiwake h2 client stream');
type Owned = ServerHttp2Stream & { [OWNER]: H2ClientStream };
const CRLF = Buffer.from('\r\n');
/** respond()'s options, by how the body goes (it only reads them: one object each, not one per response) */
const RESPOND_EMPTY = Object.freeze({ endStream: true, waitForTrailers: false });
const RESPOND_BODY = Object.freeze({ endStream: false, waitForTrailers: false });
const RESPOND_CHUNKED = Object.freeze({ endStream: false, waitForTrailers: true });

/** What a stream needs of its connection (h2-session.ts). */
export interface H2StreamOwner {
  readonly ctx: HttpServiceContext;
  readonly client: Endpoint;
  readonly forwardedClient: string;
  readonly hash: number;
  readonly https: boolean;
  /** the server name of the connection's TLS handshake (lowercase); null for h2c or none */
  readonly serverName: string | null;
  /** a throw escaped the stream's logic: reported; the stream is reset */
  failed(err: unknown): void;
  /** the client reset a stream before its response was complete (rapid reset is counted from it) */
  peerReset(): void;
  /** the stream is closed: the connection forgets it */
  closed(stream: H2ClientStream): void;
}

export class H2ClientStream implements ClientStream {
  readonly http2 = true;
  /** (an HTTP/2 client connection's streams may hold many member connections: each is counted as held) */
  readonly countedAlone = true;
  readonly client: Endpoint;
  readonly forwardedClient: string;
  readonly hash: number;
  readonly https: boolean;
  member: Member | null = null;
  bytesIn = 0;
  bytesOut = 0;
  readonly requestStart = Date.now();
  /** when the exchange's deadline passes (ms since epoch); 0 = none. The listener's sweep reads it. */
  deadline = 0;
  /** its index in its connection's list of open streams; -1 once it has left it (the connection's to set) */
  slot = -1;
  readonly #owner: H2StreamOwner;
  readonly #stream: ServerHttp2Stream;
  #ex: Exchange | null = null;
  /** the request body goes to the member chunked (it came with no Content-Length) */
  #chunked = false;
  #reqTrailers: Record<string, string | string[] | undefined> | null = null;
  /** the client ended its side (the request is all here) */
  #reqDone: boolean;
  /** the client reset the stream before its request's END_STREAM (h2-cut-short.ts): the end that follows is not one */
  #cutShort = false;
  /** the response's trailers, sent when nghttp2 asks for them */
  #resTrailers: OutgoingHttpHeaders | null = null;
  /** the response has its final head out */
  #responded = false;
  /** our side of the stream is ended (or reset) */
  #ended = false;
  /** we closed the stream (not the client) */
  #closedByUs = false;
  /** 'drain' is listened to (from the first write the client's window did not let out) */
  #drainHeard = false;
  /** a gRPC call's content-type; null for other requests (their errors are HTTP's) */
  #grpc: string | null = null;
  /** a gRPC call's deadline from its grpc-timeout (ms since epoch); 0 = none */
  #grpcDeadline = 0;

  constructor(owner: H2StreamOwner, stream: ServerHttp2Stream, endStream: boolean) {
    this.#owner = owner;
    this.#stream = stream;
    this.client = owner.client;
    this.forwardedClient = owner.forwardedClient;
    this.hash = owner.hash;
    this.https = owner.https;
    this.#reqDone = endStream;
  }

  /** the connection's TLS server name (read once per connection, when a route asks) */
  get serverName(): string | null {
    return this.#owner.serverName;
  }

  /** The exchange in progress's request, for the connection table. */
  get request(): { method: string; path: string } | null {
    const ex = this.#ex;
    return ex === null ? null : { method: ex.req.method, path: ex.req.target };
  }

  /** h2 or h2c when the exchange in progress's member is spoken to in HTTP/2, for the connection table. */
  get memberProtocol(): Exclude<MemberProtocol, 'http1'> | null {
    return this.#ex?.memberProtocol ?? null;
  }

  /** Reads the head and starts the exchange. */
  start(raw: readonly string[]): void {
    const stream = this.#stream;
    // The listeners are shared by every stream (no closures per stream): each finds its
    // H2ClientStream on the node stream. 'wantTrailers' and 'drain' are listened to only once a
    // response needs them.
    (stream as Owned)[OWNER] = this;
    stream.on('error', noop); // a reset or a dead connection: 'close' follows and does the rest
    stream.on('close', H2ClientStream.#closeEvent);
    // 'aborted' comes at once as nghttp2 reads the reset ('close' comes a tick later, after the
    // whole read): a flood of resets in one read is counted while it is read
    stream.on('aborted', H2ClientStream.#abortedEvent);
    const ctx = this.#owner.ctx;
    const http = ctx.service.config.http!;
    this.#readGrpc(raw);
    const text = requestHeadText(raw, !this.#reqDone);
    this.bytesIn += text.length;
    let req;
    try {
      req = parseRequestHead(text, http.limits, http.forwarded !== 'none', headBytesOf(text));
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      return this.#reject(err);
    }
    this.#chunked = req.chunked;
    const ex = new Exchange(ctx, this, req, accessLogging(http, ctx.log));
    this.#ex = ex;
    if (!this.#reqDone) {
      stream.on('data', H2ClientStream.#dataEvent);
      stream.on('trailers', H2ClientStream.#trailersEvent);
      stream.on('end', H2ClientStream.#endEvent);
    }
    ex.start();
  }

  /** A gRPC call (its errors become grpc-status) and its deadline (grpc-timeout), which bounds every wait of the exchange. */
  #readGrpc(raw: readonly string[]): void {
    let type: string | null = null;
    let timeout = -1;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (raw[i] === 'content-type') type ??= raw[i + 1];
      else if (raw[i] === 'grpc-timeout') timeout = grpcTimeout(raw[i + 1]);
    }
    if (type === null || !isGrpc(type)) return;
    this.#grpc = type;
    if (timeout === -1) return;
    // from now: a wait that sets no deadline of its own (the pool's queue) is bounded by it too
    this.#grpcDeadline = this.requestStart + timeout;
    this.deadline = this.#grpcDeadline;
  }

  /** A request we cannot read: its error, counted and logged as HTTP/1's are. */
  #reject(error: HttpError): void {
    const ctx = this.#owner.ctx;
    this.sendError(error.status, error.message, this.#reqDone, undefined);
    this.#finishStream(this.#reqDone);
    ctx.counts?.count(ctx.service.name, null, error.status, HTTP2, null);
    if (accessLogging(ctx.service.config.http!, ctx.log)) {
      const line = { client: this.client.address, service: ctx.service.name, member: null, protocol: 'HTTP/2', method: '', path: '', status: error.status, bytes: 0 };
      logRequest(ctx.log, line, new RequestClock());
    }
  }

  // ---- from the client (each a way in from the event loop: a throw resets this stream only)

  static #dataEvent(this: ServerHttp2Stream, chunk: Buffer): void {
    (this as Owned)[OWNER].#onData(chunk);
  }

  static #trailersEvent(this: ServerHttp2Stream, trailers: Record<string, string | string[] | undefined>): void {
    (this as Owned)[OWNER].#reqTrailers = trailers;
  }

  static #endEvent(this: ServerHttp2Stream): void {
    (this as Owned)[OWNER].#onEnd();
  }

  static #drainEvent(this: ServerHttp2Stream): void {
    (this as Owned)[OWNER].#onDrain();
  }

  static #wantTrailersEvent(this: ServerHttp2Stream): void {
    (this as Owned)[OWNER].#onWantTrailers();
  }

  static {
    onStreamClosing('server', H2ClientStream.#closingEvent);
  }

  static #closingEvent(stream: ServerHttp2Stream): void {
    const s = (stream as Partial<Owned>)[OWNER];
    // the client's reset, not ours (after a complete response, #finishStream): a request body of
    // unknown length cut short would otherwise reach the member with its last chunk
    if (s !== undefined && !s.#closedByUs && !s.#reqDone && closedBeforeEnd(stream)) s.#cutShort = true;
  }

  static #abortedEvent(this: ServerHttp2Stream): void {
    const s = (this as Owned)[OWNER];
    // closed before our response was complete: the client reset it (or the connection is gone)
    if (!s.#closedByUs) s.#owner.peerReset();
  }

  static #closeEvent(this: ServerHttp2Stream): void {
    (this as Owned)[OWNER].#onClose();
  }

  #onData(chunk: Buffer): void {
    try {
      const ex = this.#ex;
      if (ex === null || ex.requestDone) return;
      this.bytesIn += chunk.length;
      // (a Content-Length that the DATA does not match is nghttp2's to refuse)
      this.#feed(ex, this.#chunked ? Buffer.concat([Buffer.from(chunkLine(chunk.length), 'latin1'), chunk, CRLF]) : chunk);
    } catch (err) {
      this.crash(err);
    }
  }

  #onEnd(): void {
    // the request broke off: the stream's 'close' aborts the exchange, as for a client gone (at once: not left to when node lets our side go)
    if (this.#cutShort) return void this.#stream.destroy();
    try {
      this.#reqDone = true;
      const ex = this.#ex;
      if (ex === null || ex.requestDone || !this.#chunked) return;
      this.#feed(ex, Buffer.from(lastChunk(this.#reqTrailers), 'latin1'));
    } catch (err) {
      this.crash(err);
    }
  }

  #feed(ex: Exchange, data: Buffer): void {
    try {
      ex.body(data, 0, data.length);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      ex.bodyFailed(err);
    }
  }

  #onDrain(): void {
    try {
      this.#ex?.clientDrain();
    } catch (err) {
      this.crash(err);
    }
  }

  #onWantTrailers(): void {
    try {
      this.#stream.sendTrailers(this.#resTrailers ?? {});
    } catch (err) {
      this.crash(err);
    }
  }

  #onClose(): void {
    this.deadline = 0;
    this.#ended = true;
    const ex = this.#ex;
    this.#ex = null;
    this.#owner.closed(this);
    if (ex === null) return;
    try {
      ex.abort();
    } catch (err) {
      this.#owner.failed(err);
    }
  };

  // ---- the response, as a message (ClientStream) --------------------------------------------

  /** HTTP/2 frames the body itself: the exchange passes the payload alone, and the trailers apart. */
  passesRawBody(): boolean {
    return false;
  }

  sendInterim(res: ResponseHead): boolean {
    if (this.#ended || this.#responded) return true;
    this.#stream.additionalHeaders(fieldsToHeaders(res.fields, { ':status': res.status }));
    return true;
  }

  sendHead(res: ResponseHead): boolean {
    if (this.#ended) return true;
    const headers = responseHeaders(res);
    this.#responded = true;
    const endStream = res.body === 'none';
    if (endStream) this.#ended = true;
    // a chunked body may end with trailers: the stream then waits for them (or for none)
    const chunked = res.body === 'chunked';
    if (chunked) this.#stream.on('wantTrailers', H2ClientStream.#wantTrailersEvent);
    this.#stream.respond(headers, endStream ? RESPOND_EMPTY : chunked ? RESPOND_CHUNKED : RESPOND_BODY);
    this.bytesOut += res.fields.length + 16;
    return true;
  }

  sendBody(chunk: Buffer): boolean {
    if (this.#ended) return true;
    this.bytesOut += chunk.length;
    const flowing = this.#stream.write(chunk);
    if (!flowing && !this.#drainHeard) {
      this.#drainHeard = true;
      this.#stream.on('drain', H2ClientStream.#drainEvent);
    }
    return flowing;
  }

  sendTrailers(fields: string): void {
    this.#resTrailers = fieldsToHeaders(fields, {});
  }

  sendError(status: number, message: string, _requestDone: boolean, retryAfter: number | undefined): void {
    if (this.#ended || this.#responded) return;
    if (this.#grpc !== null) {
      const code = this.#grpcDeadline !== 0 && Date.now() >= this.#grpcDeadline ? GrpcStatus.DEADLINE_EXCEEDED : grpcStatusOf(status);
      return this.#respondWhole(grpcErrorHeaders(this.#grpc, code, message), null);
    }
    // the service's page for this status (error-pages), else the one line saying what happened
    const page = errorPageFor(this.#owner.ctx.service.config.http!, status);
    const body = page === null ? errorText(status, message) : page.bytes;
    const headers: OutgoingHttpHeaders = {
      ':status': status, 'content-type': page === null ? 'text/plain; charset=utf-8' : page.contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store',
    };
    if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
    this.#respondWhole(headers, this.#ex?.req.method === 'HEAD' ? null : body);
  }

  refuse(): boolean {
    const stream = this.#stream;
    if (this.#ended || this.#responded || stream.destroyed || stream.closed) return false;
    this.#ended = true;
    this.#closedByUs = true; // (not the client's reset: no rapid reset is counted)
    stream.close(NGHTTP2_REFUSED_STREAM);
    return true;
  }

  sendResponse(status: number, contentType: string, body: string): void {
    if (this.#ended || this.#responded) return;
    const headers: OutgoingHttpHeaders = { ':status': status, 'content-type': contentType, 'content-length': Buffer.byteLength(body) };
    this.#respondWhole(headers, this.#ex?.req.method === 'HEAD' ? null : body);
  }

  sendRedirect(status: number, location: string): void {
    if (this.#ended || this.#responded) return;
    this.#respondWhole({ ':status': status, location, 'content-length': 0 }, null);
  }

  #respondWhole(headers: OutgoingHttpHeaders, body: string | Buffer | null): void {
    this.#responded = true;
    this.#ended = true;
    const stream = this.#stream;
    if (stream.destroyed) return;
    stream.respond(headers, { endStream: body === null });
    if (body !== null) stream.end(body);
    this.bytesOut += body === null ? 32 : body.length + 32;
  }

  /** No tunnel over HTTP/2 here (the exchange never asks: the head carries no Upgrade). */
  startTunnel(): void {
    this.destroy();
  }

  // ---- flow and time

  pauseReading(): void {
    this.#stream.pause();
  }

  resumeReading(): void {
    this.#stream.resume();
  }

  setDeadline(ms: number): void {
    const at = ms === 0 ? 0 : Date.now() + ms;
    const grpc = this.#grpcDeadline;
    // a gRPC call's own deadline comes first, whichever wait the exchange is in
    this.deadline = grpc !== 0 && this.#ex !== null && (at === 0 || grpc < at) ? grpc : at;
  }

  /** Called by the sweep when `deadline` has passed. */
  expire(): void {
    this.deadline = 0;
    try {
      // the response is all written, but the client has not taken it within the idle timeout
      if (this.#ex === null) return this.destroy();
      if (this.#grpcDeadline !== 0 && Date.now() >= this.#grpcDeadline) return this.#grpcExpired(this.#ex);
      this.#ex.deadline();
    } catch (err) {
      this.crash(err);
    }
  }

  /**
   * The gRPC call's deadline passed: furiwake gives up on it. A client still waiting for the
   * response gets DEADLINE_EXCEEDED; one whose response had begun has its stream cancelled.
   */
  #grpcExpired(ex: Exchange): void {
    this.#grpcDeadline = 0;
    if (!this.#responded && !this.#ended) {
      this.#respondWhole(grpcErrorHeaders(this.#grpc!, GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded (grpc-timeout)'), null);
    } else {
      this.#closedByUs = true;
      if (!this.#stream.destroyed && !this.#stream.closed) this.#stream.close(NGHTTP2_CANCEL);
    }
    // the gateway gave up, as at an http request's timeout: 504 in the access log, not 499
    ex.abort(504);
  }

  // ---- the end

  exchangeDone(reusable: boolean): void {
    this.#ex = null;
    this.member = null;
    // reusable: the exchange read the whole body, so the client's end is coming
    this.#finishStream(reusable || this.#reqDone);
    // what is still buffered must reach a client that reads within the idle timeout: a stream
    // whose client never opens its window does not stay for ever
    const stream = this.#stream;
    this.deadline = stream.closed || stream.destroyed ? 0 : Date.now() + this.#owner.ctx.service.config.timeouts.idle;
  }

  /** Our side ends (with the trailers, if any, when nghttp2 asks); a request still coming is told to stop. */
  #finishStream(requestDone: boolean): void {
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return;
    if (!this.#ended) {
      this.#ended = true;
      stream.end();
    }
    // RFC 9113 8.1: a complete response may be followed by RST_STREAM(NO_ERROR) so that the
    // client stops sending a body nobody reads; sent once what we wrote is out
    if (requestDone) return;
    this.#closedByUs = true;
    stream.close(NGHTTP2_NO_ERROR);
  }

  destroy(): void {
    this.#ended = true;
    this.#closedByUs = true;
    const stream = this.#stream;
    if (!stream.destroyed && !stream.closed) stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  crash(err: unknown): void {
    this.#owner.failed(err);
    this.destroy();
  }
}

function noop(): void {}

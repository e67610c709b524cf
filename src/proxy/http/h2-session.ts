// One HTTP/2 client connection: over TLS when ALPN chose h2, or in clear when an h2c service
// read the HTTP/2 preface. Node's http2 (nghttp2) reads and writes the frames; each stream is a
// request (h2-stream.ts). The connection is one entry of the connection table, and is bounded:
// streams open at once (SETTINGS_MAX_CONCURRENT_STREAMS), the header list's size (the service's
// limits.headers), and the known floods. nghttp2 ends a connection that floods CONTINUATION,
// SETTINGS or PING frames (GOAWAY); a client that resets more streams per second than
// http2.max-resets-per-second (rapid reset, CVE-2023-44487) is sent GOAWAY ENHANCE_YOUR_CALM
// here, before nghttp2's own looser bound. Each is counted per service and logged.

import http2, { type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import { hashString } from '../../balance/index.ts';
import type { ConnectionEntry, ConnectionTable, Endpoint } from '../../runtime/connection-table.ts';
import type { MemberProtocol } from '../../config/member-protocol-schema.ts';
import type { Member } from '../../runtime/member.ts';
import { forwardedAddress } from './client-address.ts';
import type { HttpServiceContext } from './context.ts';
import { H2ClientStream, type H2StreamOwner } from './h2-stream.ts';

const { NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;
/** the most header fields a request may have, as over HTTP/1.1 (request-head.ts), and the pseudo-headers */
const MAX_HEADER_PAIRS = 204;

/** What a connection tells its listener. */
export interface H2SessionOwner {
  forget(session: H2Session): void;
  /** a throw escaped the connection's logic (a defect): reported */
  failed(session: H2Session, err: unknown): void;
  /** the client broke a protocol bound (`reason`): the connection is closed; counted and logged */
  refused(session: H2Session, reason: string): void;
}

export class H2Session implements ConnectionEntry, H2StreamOwner {
  readonly id: number;
  readonly protocol = 'tcp' as const;
  readonly http = '2' as const;
  readonly service: string;
  readonly client: Endpoint;
  readonly startedAt = Date.now();
  readonly https: boolean;
  readonly ctx: HttpServiceContext;
  readonly forwardedClient: string;
  readonly hash: number;
  readonly #socket: net.Socket;
  readonly #session: ServerHttp2Session;
  readonly #table: ConnectionTable;
  readonly #owner: H2SessionOwner;
  /** the streams open, each knowing its index here (`slot`): no hashing per stream as a Set would */
  readonly #streams: H2ClientStream[] = [];
  /** when the connection last had no stream open (ms since epoch) */
  #idleSince = Date.now();
  /** resets counted in the current second, which began at #resetWindow */
  #resetWindow = 0;
  #resets = 0;
  #closed = false;
  /** the connection was closed for breaking a bound: its own error is not counted again */
  #refused = false;

  /** the server name, once read (undefined: not yet) */
  #serverName: string | null | undefined = undefined;

  /** the server name of the TLS handshake (lowercase), for routes; null for h2c or none */
  get serverName(): string | null {
    if (this.#serverName === undefined) {
      const name = (this.#socket as Partial<tls.TLSSocket>).servername;
      this.#serverName = typeof name === 'string' && name !== '' ? name.toLowerCase() : null;
    }
    return this.#serverName;
  }

  constructor(ctx: HttpServiceContext, socket: net.Socket, https: boolean, table: ConnectionTable, owner: H2SessionOwner, client: Endpoint | null) {
    this.id = table.nextId();
    this.ctx = ctx;
    this.service = ctx.service.name;
    this.https = https;
    this.#socket = socket;
    this.#table = table;
    this.#owner = owner;
    this.client = client ?? { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    this.forwardedClient = forwardedAddress(this.client.address);
    this.hash = hashString(this.client.address);
    const http = ctx.service.config.http!;
    const session = (this.#session = http2.performServerHandshake(socket, {
      settings: { maxConcurrentStreams: http.http2.maxConcurrentStreams, maxHeaderListSize: http.limits.headers, enablePush: false },
      maxHeaderListPairs: MAX_HEADER_PAIRS,
      // a member's response with a field repeated that should be single (two Content-Type) goes
      // to the client as it came, as over HTTP/1.1; node would otherwise throw and reset the stream
      strictSingleValueFields: false,
      // nghttp2's own rapid-reset bound (a token bucket: its burst, refilled at its rate) stays
      // a looser backstop behind ours, so that the bound configured is the one that acts
      streamResetBurst: 10 * http.http2.maxResetsPerSecond,
      streamResetRate: http.http2.maxResetsPerSecond,
    }));
    table.add(this);
    session.on('stream', this.#onStream);
    session.on('error', this.#onError);
    session.on('close', this.#onClose);
    // (frame errors end a stream or the connection; 'error' or 'close' says the rest)
    session.on('frameError', noop);
    // The client's FIN: an HTTP/2 client that sends no more cannot acknowledge anything either
    // (SETTINGS, PING, window updates), so the streams in progress could never finish: the
    // connection ends now, and their exchanges are given up.
    socket.once('end', this.#onEnd);
  }

  get vip(): Endpoint {
    return { address: this.#socket.localAddress ?? '', port: this.#socket.localPort ?? 0 };
  }

  /** One of the requests in progress (the connection table shows one per connection). */
  get request(): { method: string; path: string } | null {
    for (const s of this.#streams) {
      const r = s.request;
      if (r !== null) return r;
    }
    return null;
  }

  get member(): Member | null {
    for (const s of this.#streams) if (s.member !== null) return s.member;
    return null;
  }

  /** How that member (the first stream's that has one) is spoken to, when in HTTP/2. */
  get memberProtocol(): Exclude<MemberProtocol, 'http1'> | null {
    for (const s of this.#streams) if (s.member !== null) return s.memberProtocol;
    return null;
  }

  get local(): Endpoint | null {
    return null;
  }

  get bytesIn(): number {
    return this.#socket.bytesRead;
  }

  get bytesOut(): number {
    return this.#socket.bytesWritten;
  }

  /** Streams open now. */
  get streams(): number {
    return this.#streams.length;
  }

  /** The earliest deadline of its streams, or the keep-alive timeout when it has none (ms since epoch). */
  get deadline(): number {
    if (this.#closed) return 0;
    if (this.#streams.length === 0) return this.#idleSince + this.ctx.service.config.http!.timeouts.keepAlive;
    let first = 0;
    for (const s of this.#streams) if (s.deadline !== 0 && (first === 0 || s.deadline < first)) first = s.deadline;
    return first;
  }

  /** Called by the listener's sweep when `deadline` has passed. */
  expire(): void {
    if (this.#streams.length === 0) {
      // idle past the keep-alive timeout: GOAWAY, then the close
      this.#session.close();
      return;
    }
    const now = Date.now();
    // (a stream that expires may close and leave the list at once: a copy is walked)
    for (const s of this.#streams.slice()) if (s.deadline !== 0 && s.deadline <= now) s.expire();
  }

  /** The listener is stopping: GOAWAY, the streams in progress finish, then the connection closes. */
  shutdown(): void {
    if (!this.#session.closed) this.#session.close();
  }

  abort(): void {
    this.#session.destroy();
  }

  terminate(): void {
    this.#session.destroy();
  }

  // ---- H2StreamOwner

  failed(err: unknown): void {
    this.#owner.failed(this, err);
  }

  peerReset(): void {
    if (this.#closed || this.#session.destroyed) return;
    const now = Date.now();
    if (now - this.#resetWindow >= 1000) {
      this.#resetWindow = now;
      this.#resets = 0;
    }
    if (++this.#resets > this.ctx.service.config.http!.http2.maxResetsPerSecond) this.#refuse('rapid-reset');
  }

  closed(stream: H2ClientStream): void {
    const streams = this.#streams;
    const slot = stream.slot;
    if (slot === -1 || streams[slot] !== stream) return;
    // the last one takes its place
    const last = streams.pop()!;
    if (last !== stream) {
      streams[slot] = last;
      last.slot = slot;
    }
    stream.slot = -1;
    if (streams.length === 0) this.#idleSince = Date.now();
  }

  // ---- events

  #onStream = (stream: ServerHttp2Stream, _headers: unknown, _flags: number, raw: string[]): void => {
    let s: H2ClientStream | null = null;
    try {
      s = new H2ClientStream(this, stream, stream.endAfterHeaders);
      s.slot = this.#streams.push(s) - 1;
      s.start(raw);
    } catch (err) {
      this.#owner.failed(this, err);
      if (s !== null) s.destroy();
      else stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    }
  };

  #onError = (err: Error): void => {
    if (this.#refused) return;
    const reason = floodOf(err);
    if (reason !== null) {
      this.#refused = true;
      this.#owner.refused(this, reason);
    }
    // anything else (a reset connection, a protocol error) ends this client only: not a bound broken
  };

  #onEnd = (): void => {
    if (!this.#session.destroyed) this.#session.destroy();
    // (http2 would end the socket and wait for its writes to flush, to a client that is gone)
    this.#socket.destroy();
  };

  #onClose = (): void => {
    this.#closed = true;
    this.#table.remove(this);
    this.#owner.forget(this);
  };

  /** Closes the connection for breaking a bound: GOAWAY ENHANCE_YOUR_CALM, then the close. */
  #refuse(reason: string): void {
    if (this.#refused) return;
    this.#refused = true;
    this.#owner.refused(this, reason);
    this.#session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
    this.#session.destroy();
  }
}

/** The flood nghttp2 (or Node's http2 around it) ended the connection for; null for other errors. */
function floodOf(err: Error): string | null {
  const message = err.message;
  if (message.includes('CONTINUATION')) return 'continuation-flood';
  if (message.includes('Flooding')) return 'control-frame-flood';
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES':
      return 'invalid-frames';
    case 'ERR_HTTP2_SESSION_ERROR':
      // too many streams refused ends with this
      return 'session-error';
    case 'ERR_HTTP2_ERROR':
      // nghttp2 ended the connection: a broken frame, or its own rapid-reset bound (a burst of
      // resets read in one go, before ours has seen them)
      return 'protocol-error';
  }
  return null;
}

function noop(): void {}

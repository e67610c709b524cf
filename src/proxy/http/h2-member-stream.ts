// One request to a member over HTTP/2: a stream on one of the member's shared sessions
// (h2-member-sessions.ts), seen by the exchange as a member connection (the Stream interface),
// so that everything the exchange does for HTTP/1.1 members (retries, timeouts, passive health,
// persistence, interim heads, trailers, flow control) holds for HTTP/2 members too. The exchange
// writes its request head (as head-writer.ts made it) and the body; they go out as a header list
// and DATA: the connection-specific fields (RFC 9113 8.2.2) dropped, Host as :authority, a
// chunked body sent as its payload, its trailers as trailers. The member's response comes back
// as a message (H2MemberStreamOwner): its head parsed from the header list (never as HTTP/1.1
// text read again), the body's DATA as they come, the end of a body without a Content-Length and
// its trailers apart. A gRPC trailers-only response (its grpc-status in the head, RFC-wise a
// response with no body) becomes a head and then trailers, which every gRPC client reads.
//
// A stream the member refused (REFUSED_STREAM, or above the last-stream-id of its GOAWAY) was not
// processed: it is sent again, on another session of the same member, while what went out of it
// is still held (up to REPLAY_LIMIT bytes of body).
//
// A member that resets a stream with NO_ERROR before its response's END_STREAM (h2-cut-short.ts)
// broke the response off: the client is cut off, as by any reset.
//
// Flow control: pause() stops reading the member's stream, so nghttp2 stops opening its window;
// a write the stream does not take says false, and 'drain' says when to go on.

import http2, { type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Endpoint } from '../../runtime/connection-table.ts';
import type { Member } from '../../runtime/member.ts';
import type { Stream, StreamOwner } from '../stream.ts';
import { BodyFramer, type PayloadSink } from './body-framer.ts';
import { closedBeforeEnd, onStreamClosing } from './h2-cut-short.ts';
import { memberFieldLines, memberRequestHeaders, memberResponseHead, trailerHeaders, type MemberRequest, type MemberResponse } from './h2-member-heads.ts';
import type { ResponseHead } from './response-head.ts';
import type { HttpError } from './responses.ts';
import type { H2MemberSession, H2MemberSessions, H2MemberStream as SessionSide, H2Route } from './h2-member-sessions.ts';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;
/** the END_STREAM flag of a HEADERS frame (RFC 9113 6.2), as the 'response' event gives the flags */
const END_STREAM = 0x1;

/** body bytes of a request kept so that a refused stream can be sent again */
const REPLAY_LIMIT = 64 * 1024;
/** times one request is sent again after a refusal */
const MAX_REPLAYS = 2;
/** a chunked request's trailers (bytes), as the client side's limit on a head */
const MAX_REQUEST_TRAILERS = 64 * 1024;


const Phase = { WAITING: 0, READY: 1, SENT: 2, DONE: 3 } as const;

/**
 * The owner of a member stream hears a socket's events, and the response as a message: its heads
 * parsed, the body as payload alone (streamData), a body without a Content-Length ended by
 * streamEnd, its trailers before that.
 */
export interface H2MemberStreamOwner extends StreamOwner {
  /** An interim (1xx) or the final head; an HttpError (502) when the member's cannot be passed on. */
  streamHead(stream: Stream, res: ResponseHead | HttpError): void;
  /** The trailer fields (field lines, each with its CRLF) of a body without a Content-Length. */
  streamTrailers(stream: Stream, fields: string): void;
}

export class H2MemberStream implements Stream, SessionSide {
  readEnded = false;
  writeEnded = false;
  closed = false;
  bytesRead = 0;
  bytesWritten = 0;
  /** (node's http2 hands each DATA frame in a buffer of its own: no read lands in a kept chunk) */
  keepsChunks = true;
  /** a write to the member's stream may be held by node below its high-water mark */
  readonly signalsHeldWrites = false;
  readonly #owner: H2MemberStreamOwner;
  readonly #member: Member;
  readonly #route: H2Route;
  readonly #sessions: H2MemberSessions;
  #session: H2MemberSession | null = null;
  #phase: number = Phase.WAITING;
  /** the exchange was told the connection is up */
  #connectedTold = false;
  #h2: ClientHttp2Stream | null = null;
  /** the request's header list (raw pairs), once its head was written */
  #headers: string[] | null = null;
  #method = '';
  /** a chunked request body, read for its payload and trailers */
  #framer: BodyFramer | null = null;
  /** body bytes still to come with a Content-Length */
  #remaining = 0;
  /** the whole request body was given */
  #reqEnded = false;
  #reqTrailers: OutgoingHttpHeaders | null = null;
  /** the request body so far, for a replay; null once past REPLAY_LIMIT */
  #log: Buffer[] | null = [];
  #logBytes = 0;
  /** body bytes written while no stream was open (a replay under way) */
  #held: Buffer[] | null = null;
  #replays = 0;
  /** the final response head came */
  #responded = false;
  /** the response body has no Content-Length: its end is the stream's (told to the exchange) */
  #untilEnd = false;
  /** body bytes of a response with a Content-Length still to come */
  #resRemaining = -1;
  #paused = false;
  /** its h2 stream has a 'drain' listener */
  #drainHeard = false;
  #error: string | null = null;
  #closeTold = false;
  /** the member reset the stream with NO_ERROR before its response's END_STREAM: the end that follows is not one */
  #cutShort = false;
  /** being placed on a session by the constructor */
  #placing = false;
  /** a session that was up took it when it was made: its owner hears no streamConnected */
  readonly connectedAtOnce: boolean;

  constructor(owner: H2MemberStreamOwner, member: Member, route: H2Route, sessions: H2MemberSessions) {
    this.#owner = owner;
    this.#member = member;
    this.#route = route;
    this.#sessions = sessions;
    this.#placing = true;
    sessions.place(this, member, route);
    this.#placing = false;
    this.connectedAtOnce = this.#phase === Phase.READY;
  }

  get bytesQueued(): number {
    return this.#h2?.writableLength ?? 0;
  }

  // ---- its place on a session (h2-member-sessions.ts) ---------------------------------------

  /** A session slot is this stream's; `ready`: the session can open streams now. */
  assign(session: H2MemberSession, ready: boolean): void {
    this.#session = session;
    if (!ready) return;
    if (this.#placing) {
      // a session that is up when the stream is made: connected from the start, as a kept connection is
      this.#phase = Phase.READY;
      this.#connectedTold = true;
      return;
    }
    // heard on a later turn, as a socket's connect: its session's events are under way
    process.nextTick(readyLater, this);
  }

  #readyLater(): void {
    if (this.#session !== null) this.sessionReady();
  }

  sessionReady(): void {
    if (this.closed) return this.#release();
    this.#phase = Phase.READY;
    if (this.#headers !== null) return this.#start();
    if (this.#connectedTold) return;
    this.#connectedTold = true;
    this.#owner.streamConnected(this);
  }

  /** The session given to it failed before it was ready: the connect failed. */
  sessionFailed(error: Error): void {
    this.#session = null;
    if (this.closed) return;
    // before the exchange heard of a connection: its connect failed; after (a replay's new session): the request broke off
    this.#fail((error as NodeJS.ErrnoException).code ?? error.message);
  }

  /** Its session has no room for it after all (the member's SETTINGS said fewer streams): it lets go of it. */
  detach(): void {
    this.#session = null;
  }

  /** Its session went away while it waited for a slot: it finds another. */
  requeue(): void {
    if (this.closed) return;
    this.#sessions.place(this, this.#member, this.#route);
  }

  // ---- the request, as the exchange writes it ----------------------------------------------

  writeLatin1(text: string): boolean {
    if (this.closed || this.writeEnded) return true;
    if (this.#headers === null) {
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return this.#fail('EPROTO'), true;
      this.#readHead(text.slice(0, end + 2));
      if (end + 4 < text.length) this.#body(Buffer.from(text.slice(end + 4), 'latin1'));
      return this.#flowing();
    }
    return this.write(Buffer.from(text, 'latin1'));
  }

  write(chunk: Buffer): boolean {
    if (this.closed || this.writeEnded) return true;
    if (this.#headers === null) {
      const end = chunk.indexOf('\r\n\r\n', 0, 'latin1');
      if (end === -1) return this.#fail('EPROTO'), true;
      this.#readHead(chunk.toString('latin1', 0, end + 2));
      if (end + 4 < chunk.length) this.#body(chunk.subarray(end + 4));
      return this.#flowing();
    }
    this.#body(chunk);
    return this.#flowing();
  }

  #flowing(): boolean {
    if (this.closed) return true;
    const h2 = this.#h2;
    if (h2 === null) return this.#held === null;
    if (!h2.writableNeedDrain) return true;
    if (!this.#drainHeard) {
      this.#drainHeard = true;
      h2.on('drain', onDrain);
    }
    return false;
  }

  /** How :scheme reads for this member: https over TLS (h2), http in clear (h2c). */
  get scheme(): 'http' | 'https' {
    return this.#route.protocol === 'h2' ? 'https' : 'http';
  }

  /**
   * The request as a header list (memberRequestList), and the body bytes that came with it (as
   * the exchange framed them for HTTP/1, as write() takes them); false: wait for the drain.
   */
  sendRequest(req: MemberRequest, body: Buffer | null): boolean {
    if (this.closed || this.writeEnded || this.#headers !== null) return true;
    let bytes = 0;
    for (let i = 0; i < req.headers.length; i++) bytes += req.headers[i].length;
    this.#useHead(req, bytes + 2 * req.headers.length);
    if (body !== null && body.length > 0) this.#body(body);
    return this.#flowing();
  }

  /** A head written as text (head-writer.ts): its header list for the member. */
  #readHead(head: string): void {
    this.#useHead(memberRequestHeaders(head, this.scheme), head.length + 2);
  }

  #useHead(req: MemberRequest, bytes: number): void {
    this.#method = req.method;
    this.#headers = req.headers;
    this.bytesWritten += bytes;
    if (req.chunked) {
      this.#framer = new BodyFramer().chunked(400, MAX_REQUEST_TRAILERS).keepTrailers();
      this.#sink = (buf: Buffer, start: number, end: number): void => {
        if (end > start) this.#payload(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
      };
    } else if (req.length > 0) this.#remaining = req.length;
    else this.#reqEnded = true;
    if (this.#phase === Phase.READY) this.#start();
  }

  /** Body bytes as the exchange framed them for HTTP/1 (chunked, or as many as Content-Length said). */
  #body(chunk: Buffer): void {
    const framer = this.#framer;
    if (framer === null) {
      if (this.#reqEnded) return;
      const part = chunk.length > this.#remaining ? chunk.subarray(0, this.#remaining) : chunk;
      this.#remaining -= part.length;
      this.#payload(part);
      if (this.#remaining === 0) this.#endRequest();
      return;
    }
    if (framer.done) return;
    framer.feed(chunk, 0, chunk.length, this.#sink!);
    if (framer.done) {
      const trailers = framer.trailers;
      if (trailers !== '') this.#reqTrailers = trailerHeaders(trailers);
      this.#endRequest();
    }
  }

  /** the payload of a chunked body (made with its framer: a request without one needs none) */
  #sink: PayloadSink | null = null;

  #payload(part: Buffer): void {
    if (part.length === 0) return;
    this.bytesWritten += part.length;
    const log = this.#log;
    if (log !== null && !this.#responded) {
      if ((this.#logBytes += part.length) > REPLAY_LIMIT) this.#log = null;
      else log.push(part);
    }
    const h2 = this.#h2;
    if (h2 !== null) h2.write(part);
    else (this.#held ??= []).push(part);
  }

  #endRequest(): void {
    this.#reqEnded = true;
    if (this.#h2 !== null && !this.#h2.writableEnded) this.#h2.end();
  }

  /** Opens the stream on its session and sends what there is of the request. */
  #start(): void {
    const session = this.#session!;
    if (session.closing || session.session.destroyed) {
      // the session stopped taking streams between its slot and the head: another one
      this.#release();
      return this.requeue();
    }
    const endStream = this.#reqEnded && this.#framer === null && this.#logBytes === 0;
    let h2: ClientHttp2Stream;
    try {
      h2 = session.session.request(this.#headers!, { endStream, waitForTrailers: this.#framer !== null });
    } catch (err) {
      // a field node's http2 will not send (it was valid HTTP/1.1): this request cannot go to an
      // HTTP/2 member (the exchange answers 400, see unsendableHead). Heard on a later turn, as a
      // socket's error: the exchange is in the middle of writing the head.
      this.#error ??= (err as NodeJS.ErrnoException).code ?? 'ERR_HTTP2_INVALID_HEADER_VALUE';
      return this.close();
    }
    this.#h2 = h2;
    this.#cutShort = false;
    this.#phase = Phase.SENT;
    // the listeners are shared by every stream (no closures per request): each finds its H2MemberStream on the h2 stream
    (h2 as Tagged)[OWNER] = this;
    // ('end' and 'trailers' only for a body without a Content-Length, 'drain' once a write waits: each listener costs)
    h2.on('response', onResponse);
    h2.on('headers', onInterim);
    h2.on('data', onData);
    h2.on('error', onError);
    h2.on('close', onClose);
    this.#drainHeard = false;
    if (this.#framer !== null) h2.on('wantTrailers', onWantTrailers);
    if (this.#paused) h2.pause();
    // a replay sends the body again; then whatever came while no stream was open
    const replay = this.#replays > 0 ? this.#log : null;
    if (replay !== null) for (const part of replay) h2.write(part);
    const held = this.#held;
    this.#held = null;
    if (held !== null) {
      for (const part of held) if (replay === null || !replay.includes(part)) h2.write(part);
      process.nextTick(drainLater, this);
    }
    if (this.#reqEnded && !endStream) h2.end();
  }

  #onWantTrailers(): void {
    this.#h2?.sendTrailers(this.#reqTrailers ?? {});
  }

  #onDrain(): void {
    if (!this.closed) this.#owner.streamDrained(this);
  }

  // ---- the response, as a message for the exchange ------------------------------------------

  #onInterim(headers: IncomingHttpHeaders, _flags: number, raw: string[]): void {
    const status = Number(headers[':status']);
    if (!(status >= 100 && status < 200) || this.closed) return;
    let res: ResponseHead | HttpError;
    try {
      res = memberResponseHead(status, raw, undefined, false, this.#method).head;
    } catch (err) {
      res = err as HttpError;
    }
    this.#owner.streamHead(this, res);
  }

  #onResponse(headers: IncomingHttpHeaders, flags: number, raw: string[]): void {
    this.#responded = true;
    this.#log = null;
    if (this.closed) return;
    const length = headers['content-length'];
    let res: MemberResponse;
    try {
      res = memberResponseHead(Number(headers[':status']), raw, length, (flags & END_STREAM) !== 0, this.#method);
    } catch (err) {
      return this.#owner.streamHead(this, err as HttpError);
    }
    const head = res.head;
    // the body's end: the exchange counts a Content-Length itself; a body of unknown length ends with the stream
    if ((this.#untilEnd = head.body === 'chunked')) {
      const h2 = this.#h2!;
      h2.on('trailers', onTrailers);
      h2.on('end', onEnd);
    }
    if (head.body === 'none' || (head.body === 'length' && head.contentLength === 0)) this.readEnded = true;
    else if (head.body === 'length') this.#resRemaining = head.contentLength; // (nghttp2 holds the DATA to it)
    this.bytesRead += head.fields.length + 16;
    this.#owner.streamHead(this, head);
    // trailers-only (gRPC): the status as trailers, and the end
    if (res.trailers !== null && !this.closed) {
      this.#owner.streamTrailers(this, res.trailers);
      this.#onEnd();
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#resRemaining > 0 && (this.#resRemaining -= chunk.length) <= 0) this.readEnded = true;
    this.#emit(chunk);
  }

  #onTrailers(_headers: IncomingHttpHeaders, _flags: number, raw: string[]): void {
    // with a Content-Length the exchange may be done before they come: they are dropped, as HTTP/1.1 has no place for them
    if (!this.#untilEnd || this.closed) return;
    let fields: string;
    try {
      fields = memberFieldLines(raw, null);
    } catch {
      // trailers that cannot be passed on: the response broke off (the stream is cancelled)
      this.#error ??= 'EPROTO';
      return this.close();
    }
    this.#owner.streamTrailers(this, fields);
  }

  #onEnd(): void {
    // the response broke off: the stream's 'close' tells the exchange (at once, though a request body may still be going out)
    if (this.#cutShort) return void this.#h2?.destroy();
    if (this.readEnded) return;
    this.readEnded = true;
    if (this.#untilEnd && !this.closed) this.#owner.streamEnd(this);
  }

  #emit(chunk: Buffer): void {
    if (this.closed) return;
    this.bytesRead += chunk.length;
    this.#owner.streamData(this, chunk);
  }

  /** Its h2 stream is closing (a reset either way, or both ends done), before node ends its readable side. */
  #onClosing(h2: ClientHttp2Stream): void {
    // (with an error code the stream is an error anyway; REFUSED_STREAM is sent again, on a stream of its own)
    if (!this.closed && this.#h2 === h2 && h2.rstCode === NGHTTP2_NO_ERROR && closedBeforeEnd(h2)) this.#cutShort = true;
  }

  #onError(err: NodeJS.ErrnoException): void {
    this.#error ??= err.code ?? err.message;
  }

  #onClose(): void {
    const h2 = this.#h2!;
    this.#h2 = null;
    this.#release();
    if (this.closed) return;
    const code = h2.rstCode;
    // not processed by the member (refused, or above its GOAWAY's last-stream-id): sent again while we can
    if (code === NGHTTP2_REFUSED_STREAM && !this.#responded && this.#log !== null && this.#replays < MAX_REPLAYS) {
      this.#replays++;
      this.#error = null;
      this.#phase = Phase.WAITING;
      return this.requeue();
    }
    if (!this.readEnded) this.#error ??= code === undefined || code === 0 ? 'ECONNRESET' : `RST_STREAM ${code}`;
    this.#phase = Phase.DONE;
    this.#closeNow();
  }

  /** Gives its session slot back (once). */
  #release(): void {
    const session = this.#session;
    if (session === null) return;
    this.#session = null;
    session.drop(this);
    session.streamClosed();
  }

  #fail(code: string): void {
    this.#error ??= code;
    this.#closeNow();
  }

  /** Tells the exchange: an error if there was one, then the close. */
  #closeNow(): void {
    if (this.#closeTold) return;
    this.closed = true;
    this.#closeTold = true;
    const owner = this.#owner;
    if (this.#error !== null) owner.streamError(this, this.#error);
    owner.streamClosed(this);
  }

  /** The shared listeners and deferred calls (module level, below) reach the private methods here. */
  static dispatch(stream: H2MemberStream, event: number, a?: unknown, b?: unknown, c?: unknown): void {
    switch (event) {
      case Ev.RESPONSE: return stream.#onResponse(a as IncomingHttpHeaders, b as number, c as string[]);
      case Ev.INTERIM: return stream.#onInterim(a as IncomingHttpHeaders, b as number, c as string[]);
      case Ev.DATA: return stream.#onData(a as Buffer);
      case Ev.TRAILERS: return stream.#onTrailers(a as IncomingHttpHeaders, b as number, c as string[]);
      case Ev.END: return stream.#onEnd();
      case Ev.ERROR: return stream.#onError(a as NodeJS.ErrnoException);
      case Ev.CLOSE: return stream.#onClose();
      case Ev.DRAIN: return stream.#onDrain();
      case Ev.WANT_TRAILERS: return stream.#onWantTrailers();
      case Ev.READY: return stream.#readyLater();
      case Ev.CLOSED: return stream.#closedLater();
      case Ev.CLOSING: return stream.#onClosing(a as ClientHttp2Stream);
    }
  }

  // ---- the rest of Stream ------------------------------------------------------------------

  resume(): void {
    this.#paused = false;
    this.#h2?.resume();
  }

  pause(): void {
    this.#paused = true;
    this.#h2?.pause();
  }

  end(): void {
    this.writeEnded = true;
    if (!this.#reqEnded) this.#endRequest();
  }

  closeAfterWrites(): void {
    this.end();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writeEnded = true;
    const h2 = this.#h2;
    if (h2 !== null) {
      // a response complete both ways closes by itself (its END_STREAM is in the last DATA); anything else is cancelled
      if (!(this.readEnded && this.#reqEnded) && !h2.closed && !h2.destroyed) h2.close(NGHTTP2_CANCEL);
    } else {
      if (this.#session === null) this.#sessions.unqueue(this, this.#member);
      this.#release();
    }
    // as a socket's, the close is heard on a later turn (the exchange may be in the middle of a call)
    process.nextTick(closedLater, this);
  }

  #closedLater(): void {
    if (this.#closeTold) return;
    this.#closeTold = true;
    if (this.#error !== null) this.#owner.streamError(this, this.#error);
    this.#owner.streamClosed(this);
  }

  reset(): void {
    this.close();
  }

  remote(): Endpoint {
    return { address: this.#member.ip, port: this.#member.port };
  }

  local(): Endpoint {
    const socket = this.#session?.session.socket;
    return { address: socket?.localAddress ?? '', port: socket?.localPort ?? 0 };
  }
}

const OWNER = Symbol('H2MemberStream');
type Tagged = ClientHttp2Stream & { [OWNER]: H2MemberStream };
const Ev = { RESPONSE: 0, INTERIM: 1, DATA: 2, TRAILERS: 3, END: 4, ERROR: 5, CLOSE: 6, DRAIN: 7, WANT_TRAILERS: 8, READY: 9, CLOSED: 10, CLOSING: 11 } as const;
const dispatch = H2MemberStream.dispatch;

function onResponse(this: Tagged, headers: IncomingHttpHeaders, flags: number, raw: string[]): void {
  dispatch(this[OWNER], Ev.RESPONSE, headers, flags, raw);
}
function onInterim(this: Tagged, headers: IncomingHttpHeaders, flags: number, raw: string[]): void {
  dispatch(this[OWNER], Ev.INTERIM, headers, flags, raw);
}
function onData(this: Tagged, chunk: Buffer): void {
  dispatch(this[OWNER], Ev.DATA, chunk);
}
function onTrailers(this: Tagged, headers: IncomingHttpHeaders, flags: number, raw: string[]): void {
  dispatch(this[OWNER], Ev.TRAILERS, headers, flags, raw);
}
function onEnd(this: Tagged): void {
  dispatch(this[OWNER], Ev.END);
}
function onError(this: Tagged, err: NodeJS.ErrnoException): void {
  dispatch(this[OWNER], Ev.ERROR, err);
}
function onClose(this: Tagged): void {
  dispatch(this[OWNER], Ev.CLOSE);
}
function onDrain(this: Tagged): void {
  dispatch(this[OWNER], Ev.DRAIN);
}
function onWantTrailers(this: Tagged): void {
  dispatch(this[OWNER], Ev.WANT_TRAILERS);
}
function drainLater(stream: H2MemberStream): void {
  dispatch(stream, Ev.DRAIN);
}
function readyLater(stream: H2MemberStream): void {
  dispatch(stream, Ev.READY);
}
function closedLater(stream: H2MemberStream): void {
  dispatch(stream, Ev.CLOSED);
}

onStreamClosing('client', (h2) => {
  const owner = (h2 as Tagged)[OWNER];
  if (owner !== undefined) dispatch(owner, Ev.CLOSING, h2);
});

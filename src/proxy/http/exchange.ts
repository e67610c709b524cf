// One request and its response: choose a member (or wait in the pool's queue), take a kept
// connection to it or open one, send the head and stream the body, read the response head and
// stream the response back, then hand the member connection back for the next request.
// Failures become HTTP answers: 502 when a member fails, 503 when none can take the request,
// 504 when the member does not answer in time. A request is sent again — on a fresh connection
// to the same member when a kept one turned out closed, else on another member — only while
// that is safe: nothing of the response has come, the method is idempotent and no body byte
// went out. A connect that fails is always safe to try elsewhere: nothing was sent.

import { usesHash } from '../../balance/index.ts';
import type { HttpServiceConfig } from '../../config/http-types.ts';
import type { ServiceConfig } from '../../config/types.ts';
import type { Endpoint } from '../../runtime/connection-table.ts';
import type { Dispatcher } from '../../runtime/dispatch.ts';
import type { Member } from '../../runtime/member.ts';
import type { Pool, Waiter } from '../../runtime/pool.ts';
import { logRequest, type Timings } from './access-log.ts';
import { BodyFramer } from './body-framer.ts';
import { ClientBytes } from './client-bytes.ts';
import type { HttpServiceContext } from './context.ts';
import { clientResponseHead, interimHead, memberRequestHead } from './head-writer.ts';
import { isIdempotent, type RequestHead } from './request-head.ts';
import { parseResponseHead, type ResponseHead } from './response-head.ts';
import { errorResponse, HttpError, redirectResponse } from './responses.ts';
import { Sticky } from './sticky.ts';
import { trustedProxies } from './client-address.ts';
import type { Upstream, UpstreamUser } from './upstream.ts';

/** What an exchange needs of its client connection. */
export interface ClientSide {
  readonly client: Endpoint;
  /** the client's address as written toward members: canonical, or `unknown` (never raw outside bytes) */
  readonly forwardedClient: string;
  /** the client address's hash, for the hashing algorithms */
  readonly hash: number;
  readonly https: boolean;
  /** the listener is stopping: this is the connection's last exchange */
  readonly closing: boolean;
  member: Member | null;
  /** bytes read from and written to the client so far */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** when the request's head began to arrive (ms since epoch): timeouts.request runs from it */
  readonly requestStart: number;
  write(data: string | Buffer): boolean;
  pauseReading(): void;
  resumeReading(): void;
  /** the exchange's own deadline, `ms` from now; 0 clears it */
  setDeadline(ms: number): void;
  /** the exchange is over; the connection takes the next request, or closes */
  exchangeDone(keepAlive: boolean): void;
  /** a 101 was passed on: from now on the connection is a tunnel */
  startTunnel(): void;
  /** ends the client connection at once, with a reset (a response that cannot be completed) */
  destroy(): void;
  /** the last resort: a throw escaped the exchange's logic; reported, and the client is reset */
  crash(err: unknown): void;
}

const Wait = { NONE: 0, CONNECT: 1, RESPONSE: 2, IDLE: 3 } as const;
/** body bytes held while no member connection is ready; beyond this the client is paused */
const EARLY_LIMIT = 64 * 1024;
const MAX_RESPONSE_HEAD = 64 * 1024;
/**
 * The interim (1xx) heads of one response may take this much together, as its final head may: a
 * member that floods them (to a client that does not read, they would pile up in memory) gets a 502.
 */
const MAX_INTERIM = MAX_RESPONSE_HEAD;
/** seconds a client is told to wait after a 503 */
const RETRY_AFTER = 1;
/** a first body part up to this size goes out in one write with the head */
const SMALL_BODY = 4096;

export class Exchange implements UpstreamUser {
  readonly req: RequestHead;
  member: Member | null = null;
  readonly #ctx: HttpServiceContext;
  readonly #side: ClientSide;
  /** settings as they were when the request came: a reload applies to the next request */
  readonly #svc: ServiceConfig;
  readonly #http: HttpServiceConfig;
  readonly #pool: Pool;
  readonly #hash: number;
  /** the service's rule for choosing a member (runtime/dispatch.ts), as the request came */
  readonly #dispatcher: Dispatcher;
  /** the service's persistence, as it reads this request; null without persistence */
  readonly #sticky: Sticky | null;
  /** what identifies the client to persistence; null when none */
  readonly #key: string | null;
  readonly #reqBody = new BodyFramer();
  readonly #inAtStart: number;
  readonly #outAtStart: number;
  #up: Upstream | null = null;
  /** the head went out on #up */
  #sent = false;
  #early: Buffer[] | null = null;
  #earlyBytes = 0;
  /** body bytes written to members, all attempts together */
  #bodySent = 0;
  #resBytes: ClientBytes | null = null;
  #res: ResponseHead | null = null;
  #resBody: BodyFramer | null = null;
  /** some of the response reached the client: no other answer can be given now */
  #responded = false;
  #gotResponseByte = false;
  /** bytes of interim (1xx) heads read so far */
  #interim = 0;
  #resDone = false;
  #status = 0;
  #dechunk = false;
  #closeClient = false;
  /** the member connection may carry another request afterwards */
  #reusable = true;
  #tried: Member[] | null = null;
  #staleRetried = false;
  #waiter: Waiter | null = null;
  #wait: number = Wait.NONE;
  #tunnel = false;
  #finished = false;
  #timings: Timings | null;
  /** performance.now() when queueing or connecting began; 0 when not in progress */
  #queuedAt = 0;
  #connectAt = 0;
  /** the request body's clock (ms since epoch): its start and the request's, moved on by the time
   * reading was paused for the member; the body bytes read so far */
  #bodyStart = Date.now();
  #requestStart: number;
  #bodyIn = 0;
  /** when reading was paused because the member (or the wait for one) could not take more; 0 = not */
  #pausedAt = 0;

  constructor(ctx: HttpServiceContext, side: ClientSide, req: RequestHead, logging: boolean) {
    this.#ctx = ctx;
    this.#side = side;
    this.req = req;
    this.#svc = ctx.service.config;
    this.#http = this.#svc.http!;
    this.#pool = ctx.service.pool;
    // only the hashing algorithms read the client's hash
    this.#hash = usesHash(this.#pool.algorithm) ? side.hash : 0;
    this.#dispatcher = ctx.service.dispatcher;
    const persistence = this.#dispatcher.persistence;
    this.#sticky = persistence === null ? null : new Sticky(persistence, req, this.#clientAddress(side, req));
    this.#key = this.#sticky?.key ?? null;
    this.#requestStart = side.requestStart;
    this.#inAtStart = side.bytesIn;
    this.#outAtStart = side.bytesOut;
    this.#timings = logging ? { start: performance.now(), queue: 0, connect: 0, firstByte: 0 } : null;
    if (req.chunked) this.#reqBody.chunked(400, this.#http.limits.headers);
    else if (req.contentLength > 0) this.#reqBody.length(req.contentLength);
    else this.#reqBody.none();
  }

  /** The client as persistence sees it: behind trusted proxies, the address X-Forwarded-For names. */
  #clientAddress(side: ClientSide, req: RequestHead): string {
    const trusted = this.#http.trustedProxies;
    if (trusted.length === 0) return side.client.address;
    return trustedProxies(trusted).clientOf(side.client.address, req.forwardedFor ?? undefined);
  }

  /** The balancer's own address on the connection to the member; null while there is none. */
  get local(): Endpoint | null {
    return this.#up?.connected === true ? this.#up.local : null;
  }

  /** The request body has been read to its end. */
  get requestDone(): boolean {
    return this.#reqBody.done;
  }

  start(): void {
    if (this.#finished) return;
    const redirect = this.#http.redirectHttps;
    if (redirect !== null) return this.#redirect(redirect.status, redirect.port);
    this.#dispatch();
  }

  // ---- choosing a member ------------------------------------------------------------------

  #dispatch(): void {
    const d = this.#dispatcher;
    const member = d.choose(this.#key, this.#hash, this.#tried);
    if (member !== undefined) return this.#use(member, false);
    switch (d.refusal()) {
      case 'unusable':
        return this.#fail(503, 'no member is available to serve this request');
      case 'queue-full':
        return this.#fail(503, 'every member is busy and the queue is full');
    }
    if (this.#timings !== null) this.#queuedAt = performance.now();
    this.#waiter = d.wait(this.#key, this.#hash, this.#tried, this.#onQueued);
  }

  #onQueued = (member: Member | undefined): void => {
    // the pool calls this from its timer, or from another connection's release: a throw here
    // ends this exchange's connection, not the process nor the other connection
    try {
      this.#queued(member);
    } catch (err) {
      this.#side.crash(err);
    }
  };

  #queued(member: Member | undefined): void {
    this.#waiter = null;
    this.#stopQueueClock();
    if (member === undefined) return this.#fail(503, 'every member stayed busy for the whole queue timeout');
    this.#dispatcher.queued(this.#key, member);
    this.#use(member, false);
  }

  /** Sends on a kept connection to `member`, or opens one (always a new one when `fresh`). */
  #use(member: Member, fresh: boolean): void {
    this.member = member;
    this.#side.member = member;
    const kept = fresh ? null : this.#ctx.members.take(member);
    if (kept !== null) {
      this.#attach(kept);
      return this.#send();
    }
    const up = this.#ctx.members.open(member, this.#http);
    this.#attach(up);
    this.#wait = Wait.CONNECT;
    this.#side.setDeadline(this.#svc.timeouts.connect);
    if (this.#timings !== null) this.#connectAt = performance.now();
  }

  #attach(up: Upstream): void {
    this.#up = up;
    this.#sent = false;
    up.user = this;
  }

  /** A throw escaped the handling of the member connection's event: the client connection ends. */
  upstreamFailed(err: unknown): void {
    this.#side.crash(err);
  }

  upstreamConnected(up: Upstream): void {
    if (up !== this.#up) return;
    this.#stopConnectClock();
    this.#send();
  }

  // ---- the request ------------------------------------------------------------------------

  #send(): void {
    const up = this.#up!;
    const side = this.#side;
    up.requests++;
    const head = memberRequestHead(this.req, {
      forwarded: this.#http.forwarded,
      client: side.forwardedClient,
      https: side.https,
      memberHost: up.member.endpoint,
      close: this.#http.memberKeepAlive.maxIdle === 0,
    });
    let flowing: boolean;
    if (this.#early === null) {
      flowing = up.stream.writeLatin1(head);
    } else {
      // the head and the body that came with it, in one write (one packet when it fits)
      flowing = up.stream.write(Buffer.concat([Buffer.from(head, 'latin1'), ...this.#early]));
      this.#bodySent += this.#earlyBytes;
      this.#early = null;
      this.#earlyBytes = 0;
    }
    this.#sent = true;
    if (!this.#reqBody.done && flowing) this.#resumeBody();
    this.#awaitNext();
  }

  /**
   * Body bytes from the client, `buf[start..end)`; returns the index just past the body's end.
   * A malformed chunked body throws its HttpError (400).
   */
  body(buf: Buffer, start: number, end: number): number {
    const stop = this.#reqBody.feed(buf, start, end);
    if (stop > start) {
      const part = start === 0 && stop === buf.length ? buf : buf.subarray(start, stop);
      this.#bodyIn += part.length;
      if (this.#sent) {
        this.#bodySent += part.length;
        if (!this.#up!.stream.write(part)) this.#pauseBody();
      } else {
        // No member connection yet: keep what came, up to a bound.
        (this.#early ??= []).push(part);
        this.#earlyBytes += part.length;
        if (this.#earlyBytes >= EARLY_LIMIT) this.#pauseBody();
      }
    }
    if (this.#sent) this.#awaitNext();
    if (this.#reqBody.done && this.#resDone) this.#finish();
    return stop;
  }

  /** The request body broke off (the client closed or sent a malformed chunk). */
  bodyFailed(error: HttpError): void {
    this.#reusable = false;
    this.#closeClient = true;
    this.#dropUpstream();
    this.#fail(error.status, error.message);
  }

  upstreamDrain(): void {
    if (this.#tunnel) return this.#side.resumeReading();
    if (!this.#reqBody.done) {
      this.#resumeBody();
      this.#awaitNext();
    }
  }

  /** Reading the body stops for the member's sake: the client's clock stops too. */
  #pauseBody(): void {
    if (this.#pausedAt === 0) this.#pausedAt = Date.now();
    this.#side.pauseReading();
  }

  #resumeBody(): void {
    if (this.#pausedAt !== 0) {
      const paused = Date.now() - this.#pausedAt;
      this.#bodyStart += paused;
      this.#requestStart += paused;
      this.#pausedAt = 0;
    }
    this.#side.resumeReading();
  }

  /**
   * How long the client may take for its next body bytes (ms from now): `timeouts.body` (or the
   * idle timeout, when shorter) between reads; no later than the point where the body falls
   * under min-body-rate (after a first `timeouts.body` of grace: bytes so far / rate); and no
   * later than the whole request's deadline.
   */
  #bodyDeadline(): number {
    const t = this.#http.timeouts;
    const now = Date.now();
    let at = now + Math.min(t.body, this.#svc.timeouts.idle);
    if (t.minBodyRate > 0) at = Math.min(at, this.#bodyStart + t.body + (this.#bodyIn * 1000) / t.minBodyRate);
    if (t.request > 0) at = Math.min(at, this.#requestStart + t.request);
    return Math.max(1, Math.ceil(at - now));
  }

  /** The client can take more: the member may send on. */
  clientDrain(): void {
    this.#up?.stream.resume();
  }

  /** Which deadline applies now that something happened. */
  #awaitNext(): void {
    if (this.#tunnel) return;
    if (!this.#gotResponseByte && this.#reqBody.done) {
      if (this.#wait !== Wait.RESPONSE) {
        this.#wait = Wait.RESPONSE;
        this.#side.setDeadline(this.#http.timeouts.response);
      }
      return;
    }
    this.#wait = Wait.IDLE;
    // While the body comes (and the member is not what holds it up), the client's body deadlines
    // apply: a trickle cannot hold a member connection for ever.
    const clientsTurn = !this.#reqBody.done && this.#pausedAt === 0 && !this.#responded;
    this.#side.setDeadline(clientsTurn ? this.#bodyDeadline() : this.#svc.timeouts.idle);
  }

  // ---- the response -----------------------------------------------------------------------

  upstreamData(chunk: Buffer): void {
    if (this.#tunnel) {
      this.#side.setDeadline(this.#svc.timeouts.idle);
      if (!this.#side.write(chunk)) this.#up!.stream.pause();
      return;
    }
    if (!this.#gotResponseByte) {
      this.#gotResponseByte = true;
      if (this.#timings !== null) this.#timings.firstByte = performance.now() - this.#timings.start;
    }
    if (this.#resBody === null) return this.#headData(chunk);
    this.#bodyData(chunk, 0);
  }

  #headData(chunk: Buffer): void {
    const bytes = (this.#resBytes ??= new ClientBytes());
    bytes.push(chunk);
    for (;;) {
      const end = bytes.headEnd(0);
      if (end === -1) {
        // a head with a bare LF or CR never ends as we read it: a 502 now, not a 504 at the response timeout
        if (bytes.bareLineEnd()) this.#memberFailed(new HttpError(502, 'bare LF or CR in the response head from the member'));
        else if (bytes.length > MAX_RESPONSE_HEAD) this.#memberFailed(new HttpError(502, 'response head from the member is too large'));
        return;
      }
      // (also when its end came in the read that took it past the bound)
      if (end > MAX_RESPONSE_HEAD) return this.#memberFailed(new HttpError(502, 'response head from the member is too large'));
      let res: ResponseHead;
      try {
        res = parseResponseHead(bytes.latin1(0, end), this.req.method);
      } catch (err) {
        return this.#memberFailed(err as HttpError);
      }
      if (res.status >= 100 && res.status < 200 && res.status !== 101) {
        if ((this.#interim += end) > MAX_INTERIM) return this.#memberFailed(new HttpError(502, `interim (1xx) responses from the member larger than ${MAX_INTERIM} bytes together`));
        // 100 Continue and 103 Early Hints: passed on to a client that can read them
        if (this.req.minor === 1 && !this.#side.write(interimHead(res))) this.#up?.stream.pause();
        bytes.drop(end);
        if (bytes.length === 0) return;
        continue;
      }
      const rest = bytes.takeAll().subarray(end);
      this.#resBytes = null;
      return this.#responseHead(res, rest);
    }
  }

  #responseHead(res: ResponseHead, rest: Buffer): void {
    const req = this.req;
    this.#res = res;
    this.#status = res.status;
    if (res.status === 101) {
      if (req.upgrade === null) return this.#memberFailed(new HttpError(502, 'the member switched protocols unasked'));
      return this.#startTunnel(res, rest);
    }
    this.#dechunk = res.body === 'chunked' && req.minor === 0;
    this.#closeClient ||= !req.keepAlive || this.#side.closing || res.body === 'close' || this.#dechunk || !this.#reqBody.done;
    if (res.close) this.#reusable = false;
    if (this.#sticky !== null && this.member !== null) res.fields = this.#sticky.responseFields(res.fields, this.member);
    const framer = (this.#resBody = new BodyFramer());
    if (res.body === 'none') framer.none();
    else if (res.body === 'length') framer.length(res.contentLength);
    else if (res.body === 'chunked') framer.chunked(502, MAX_RESPONSE_HEAD);
    else framer.untilClose();
    const head = clientResponseHead(res, { minor: req.minor, close: this.#closeClient, dechunk: this.#dechunk });
    if (this.#dechunk || rest.length === 0 || framer.done) {
      this.#responded = true;
      this.#side.write(head);
      if (rest.length > 0) return this.#bodyData(rest, 0);
      if (framer.done) return this.#responseDone();
      return this.#awaitNext();
    }
    let stop: number;
    try {
      stop = framer.feed(rest, 0, rest.length);
    } catch (err) {
      return this.#memberFailed(err as HttpError);
    }
    this.#responded = true;
    let flowing: boolean;
    if (stop <= SMALL_BODY) {
      // head and a small body in one write, as they came in one read (the common case)
      flowing = this.#side.write(head + rest.toString('latin1', 0, stop));
    } else {
      this.#side.write(head);
      flowing = this.#side.write(rest.subarray(0, stop));
    }
    if (!flowing) this.#up?.stream.pause();
    this.#afterBody(rest, stop);
  }

  #bodyData(chunk: Buffer, start: number): void {
    let stop: number;
    try {
      stop = this.#resBody!.feed(chunk, start, chunk.length, this.#dechunk ? this.#sink : undefined);
    } catch (err) {
      return this.#memberFailed(err as HttpError);
    }
    if (!this.#dechunk && stop > start) {
      const part = start === 0 && stop === chunk.length ? chunk : chunk.subarray(start, stop);
      if (!this.#side.write(part)) this.#up?.stream.pause();
    }
    this.#afterBody(chunk, stop);
  }

  #afterBody(chunk: Buffer, stop: number): void {
    if (stop < chunk.length) this.#reusable = false;
    if (this.#resBody!.done) return this.#responseDone();
    this.#awaitNext();
  }

  #sink = (buf: Buffer, start: number, end: number): void => {
    if (end > start && !this.#side.write(buf.subarray(start, end))) this.#up?.stream.pause();
  };

  upstreamEnd(): void {
    // A body that runs to the close is complete now; anything else ending here broke off.
    if (this.#resBody !== null && this.#resBody.untilCloseMode && !this.#tunnel) {
      this.#reusable = false;
      return this.#responseDone();
    }
    if (this.#tunnel) {
      // The member is done with the tunnel: so is the client (a tunnel ends when either side does).
      this.#closeClient = true;
      return this.#finish();
    }
    this.#up?.destroy();
  }

  #responseDone(): void {
    this.#resDone = true;
    if (!this.#reqBody.done) {
      // The member answered before the whole body came (a 413, a redirect): the rest of the
      // body has nowhere to go, so both connections close once the response is out.
      this.#reusable = false;
      this.#closeClient = true;
    }
    this.#finish();
  }

  // ---- tunnels (101 Switching Protocols) --------------------------------------------------

  #startTunnel(res: ResponseHead, rest: Buffer): void {
    this.#tunnel = true;
    this.#reusable = false;
    this.#responded = true;
    this.#side.write(clientResponseHead(res, { minor: 1, close: false, dechunk: false }));
    if (rest.length > 0) this.#side.write(rest);
    this.#side.setDeadline(this.#svc.timeouts.idle);
    this.#side.startTunnel();
  }

  /** Bytes from the client of a tunnel. */
  tunnelData(chunk: Buffer): void {
    this.#side.setDeadline(this.#svc.timeouts.idle);
    if (!this.#up!.stream.write(chunk)) this.#side.pauseReading();
  }

  /**
   * The client sent its FIN. A tunnel ends when either side does (WebSocket and its kin do not
   * half-close): what is written flushes, then both connections close.
   */
  tunnelClientEnd(): void {
    this.#closeClient = true;
    this.#finish();
  }

  get tunnel(): boolean {
    return this.#tunnel;
  }

  // ---- failures ---------------------------------------------------------------------------

  upstreamClosed(up: Upstream, error: Error | null): void {
    if (up !== this.#up) return;
    this.#up = null;
    if (this.#finished) return;
    if (this.#tunnel) {
      this.#closeClient = true;
      return this.#finish();
    }
    if (!up.connected) return this.#connectFailed(error);
    if (this.#resBody !== null && this.#resBody.untilCloseMode && error === null) {
      this.#reusable = false;
      return this.#responseDone();
    }
    if (this.#gotResponseByte) {
      return this.#memberFailed(new HttpError(502, 'the member closed the connection in the middle of its response'));
    }
    const safe = isIdempotent(this.req.method) && this.#bodySent === 0;
    if (safe && up.requests > 1 && !this.#staleRetried) {
      // A kept connection the member had already closed: the request never reached it.
      this.#staleRetried = true;
      return this.#use(this.member!, true);
    }
    if (safe) return this.#tryElsewhere(`the member closed the connection before responding${reason(error)}`);
    this.#failMember(502, `the member closed the connection before responding${reason(error)}`);
  }

  #connectFailed(error: Error | null): void {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (code === 'EMFILE' || code === 'ENFILE') {
      // this process's shortage, not the member's failure: no other member would do better
      this.#releaseMember(this.member!);
      return this.#fail(503, 'furiwake is out of file descriptors');
    }
    this.#tryElsewhere(`cannot connect to a member${reason(error)}`);
  }

  /** Gives the member back as failed and asks the pool again, while retries last. */
  #tryElsewhere(why: string): void {
    const member = this.member!;
    member.failed++;
    this.#releaseMember(member);
    (this.#tried ??= []).push(member);
    if (this.#tried.length > this.#dispatcher.retries) return this.#fail(502, why);
    this.#dispatch();
  }

  #failMember(status: number, message: string): void {
    if (this.member !== null) this.member.failed++;
    this.#fail(status, message);
  }

  /** The member sent something we cannot pass on, or stopped halfway. */
  #memberFailed(error: HttpError): void {
    this.#reusable = false;
    this.#dropUpstream();
    this.#failMember(error.status, error.message);
  }

  /** The connection's deadline passed while this exchange held it. */
  deadline(): void {
    switch (this.#wait) {
      case Wait.CONNECT:
        this.#up?.fail(new Error(`connect timeout after ${this.#svc.timeouts.connect} ms`));
        return;
      case Wait.RESPONSE:
        this.#reusable = false;
        this.#dropUpstream();
        return this.#failMember(504, `the member did not respond within ${this.#http.timeouts.response} ms`);
      default:
        this.#reusable = false;
        this.#dropUpstream();
        if (!this.#responded && !this.#reqBody.done) {
          this.#closeClient = true;
          return this.#fail(408, 'the request body did not arrive in time (timeouts.body, min-body-rate or timeouts.request)');
        }
        if (!this.#responded) return this.#failMember(504, `the member stopped sending for ${this.#svc.timeouts.idle} ms`);
        this.#closeClient = true;
        this.#side.destroy();
        return this.#finish();
    }
  }

  /** Answers with our own error, unless the response has begun: then the client is cut off. */
  #fail(status: number, message: string): void {
    if (this.#finished) return;
    this.#dropUpstream();
    if (this.#responded) {
      this.#closeClient = true;
      this.#side.destroy();
      return this.#finish();
    }
    this.#status = status;
    this.#responded = true;
    this.#resDone = true;
    // A request body we have not read to its end leaves the connection out of step.
    this.#closeClient ||= !this.#reqBody.done || !this.req.keepAlive || this.#side.closing;
    this.#side.write(errorResponse(status, message, {
      close: this.#closeClient,
      retryAfter: status === 503 ? RETRY_AFTER : undefined,
      head: this.req.method === 'HEAD',
    }));
    this.#finish();
  }

  #redirect(status: number, port: number): void {
    const host = (this.req.host ?? '').replace(/:\d+$/, '');
    if (host === '') return this.#fail(400, 'no Host to redirect to');
    this.#status = status;
    this.#responded = true;
    this.#resDone = true;
    this.#closeClient ||= !this.#reqBody.done || !this.req.keepAlive || this.#side.closing;
    const location = `https://${host}${port === 443 ? '' : `:${port}`}${this.req.target.startsWith('/') ? this.req.target : '/'}`;
    this.#side.write(redirectResponse(status, location, this.#closeClient));
    this.#finish();
  }

  /** The client went away (or the table aborted it): everything is given back. */
  abort(): void {
    if (this.#finished) return;
    if (this.#waiter !== null) this.#pool.cancel(this.#waiter);
    this.#waiter = null;
    this.#reusable = false;
    this.#closeClient = true;
    this.#dropUpstream();
    if (!this.#responded) this.#status = 499;
    this.#finish();
  }

  /** Lets go of the member connection without keeping it. */
  #dropUpstream(): void {
    const up = this.#up;
    if (up === null) return;
    this.#up = null;
    up.user = null;
    up.destroy();
  }

  // ---- the end ----------------------------------------------------------------------------

  #stopQueueClock(): void {
    if (this.#timings === null || this.#queuedAt === 0) return;
    this.#timings.queue += performance.now() - this.#queuedAt;
    this.#queuedAt = 0;
  }

  #stopConnectClock(): void {
    if (this.#timings === null || this.#connectAt === 0) return;
    this.#timings.connect += performance.now() - this.#connectAt;
    this.#connectAt = 0;
  }

  #releaseMember(member: Member): void {
    this.#pool.release(member, 0, 0);
    this.member = null;
    this.#side.member = null;
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#side.setDeadline(0);
    const up = this.#up;
    this.#up = null;
    if (up !== null) {
      if (this.#reusable && this.#resDone && this.#reqBody.done) this.#ctx.members.release(up, this.#http, Date.now());
      else {
        up.user = null;
        if (this.#tunnel) up.stream.closeAfterWrites(); // what the client sent last still goes out
        else up.destroy();
      }
    }
    const side = this.#side;
    const member = this.member;
    if (member !== null) {
      this.#dispatcher.release(member, this.#key, side.bytesIn - this.#inAtStart, side.bytesOut - this.#outAtStart);
      this.member = null;
    }
    this.#ctx.counts?.count(this.#ctx.service.name, member, this.#status);
    if (this.#timings !== null) {
      this.#stopQueueClock();
      this.#stopConnectClock();
      // The client as persistence saw it (behind trusted proxies, X-Forwarded-For's), and the
      // peer that carried the request when that is another address.
      const peer = side.client.address;
      const client = this.#clientAddress(side, this.req);
      logRequest(this.#ctx.log, {
        client,
        ...(client === peer ? {} : { peer }),
        service: this.#ctx.service.name,
        member: member?.id ?? null,
        method: this.req.method,
        path: this.req.target,
        status: this.#status,
        bytes: side.bytesOut - this.#outAtStart,
      }, this.#timings);
    }
    side.member = null;
    side.exchangeDone(!this.#closeClient);
  }
}

function reason(error: Error | null): string {
  if (error === null) return '';
  const code = (error as NodeJS.ErrnoException).code;
  return `: ${code ?? error.message}`;
}

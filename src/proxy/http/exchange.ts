// One request and its response: choose a member (or wait in the pool's queue), take a kept
// connection to it or open one, send the head and stream the body, read the response head and
// stream the response back, then hand the member connection back for the next request.
// Failures become HTTP answers: 502 when a member fails, 503 when none can take the request,
// 504 when the member does not answer in time. A request is sent again — on a fresh connection
// to the same member when a kept one turned out closed, else on another member — only while
// that is safe: nothing of the response has come, the method is idempotent and no body byte
// went out. A connect that fails is always safe to try elsewhere: nothing was sent.
// The exchange speaks HTTP/1 to members (an HTTP/2 member's stream hands it the response as a
// message: upstreamHead), and to its client in messages (client-stream.ts): how they go on the
// client's wire is the client connection's business.

import { usesHash } from '../../balance/index.ts';
import type { HttpServiceConfig } from '../../config/http-types.ts';
import type { MemberProtocol } from '../../config/member-protocol-schema.ts';
import type { ServiceConfig } from '../../config/types.ts';
import type { Endpoint } from '../../runtime/connection-table.ts';
import { HTTP1_0, HTTP1_1, HTTP2 } from '../../runtime/request-counts.ts';
import type { Dispatcher } from '../../runtime/dispatch.ts';
import type { Member } from '../../runtime/member.ts';
import type { MemberTraffic } from '../../runtime/member-down.ts';
import type { TrafficList } from '../../runtime/member-traffic.ts';
import type { Pool, Waiter } from '../../runtime/pool.ts';
import type { LiveRoute } from '../../runtime/service-routes.ts';
import { expandLocation } from '../../routing/location.ts';
import { rewritePath } from '../../routing/path-rewrite.ts';
import { requestWait, retryAfterSeconds } from '../rate-limits.ts';
import { logRequest } from './access-log.ts';
import { BodyClock } from './body-clock.ts';
import { BodyFramer, type PayloadSink } from './body-framer.ts';
import { ClientBytes, copyOf } from './client-bytes.ts';
import type { ClientStream } from './client-stream.ts';
import type { HttpServiceContext } from './context.ts';
import { memberRequestHead, type ForwardingContext } from './head-writer.ts';
import { memberRequestList, unsendableHead } from './h2-member-heads.ts';
import { RequestClock } from './request-clock.ts';
import { isIdempotent, type RequestHead } from './request-head.ts';
import { parseResponseHead, type ResponseHead } from './response-head.ts';
import { HttpError } from './responses.ts';
import { Sticky } from './sticky.ts';
import { forwardedAddress, trustedProxies } from './client-address.ts';
import { editsHeaders, HeaderEditor } from './header-rules.ts';
import type { Upstream, UpstreamUser } from './upstream.ts';

const Wait = { NONE: 0, CONNECT: 1, RESPONSE: 2, IDLE: 3 } as const;
/** body bytes held while no member connection is ready; beyond this the client is paused */
const EARLY_LIMIT = 64 * 1024;
const MAX_RESPONSE_HEAD = 64 * 1024;
/**
 * The interim (1xx) heads of one response may take this much together, as its final head may: a
 * member that floods them (to a client that does not read, they would pile up in memory) gets a 502.
 */
const MAX_INTERIM = MAX_RESPONSE_HEAD;
/** the least an interim head takes besides its fields: `HTTP/1.1 1xx ` CRLF, and the blank line */
const INTERIM_LINES = 'HTTP/1.1 100 \r\n\r\n'.length;
/** seconds a client is told to wait after a 503 */
const RETRY_AFTER = 1;
/** the framer of every request without a body: done from the start, so nothing ever changes it */
const NO_BODY = new BodyFramer().none();
/** no body bytes came with a head */
const NO_BYTES = Buffer.alloc(0);

export class Exchange implements UpstreamUser, MemberTraffic {
  readonly req: RequestHead;
  member: Member | null = null;
  /** its place in its member's traffic list (member-traffic.ts) */
  trafficPrev: MemberTraffic | null = null;
  trafficNext: MemberTraffic | null = null;
  trafficList: TrafficList<MemberTraffic> | null = null;
  readonly #ctx: HttpServiceContext;
  readonly #side: ClientStream;
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
  /** the route that took the request; null: the service's pool (no routes, or none matched) */
  readonly #route: LiveRoute | null;
  /** why the service's or the route's access turns the client away (answered 403); null: it may come in */
  readonly #denied: string | null;
  /** the target as the member gets it (a route's strip-prefix or replace-prefix) */
  readonly #target: string;
  /** header rules and the request id; null when the service and the route have none */
  readonly #headers: HeaderEditor | null;
  readonly #reqBody: BodyFramer;
  readonly #inAtStart: number;
  readonly #outAtStart: number;
  #up: Upstream | null = null;
  /** #up is an HTTP/1.1 member connection the budget counts apart from its client (ClientStream.countedAlone) */
  #upCounted = false;
  /** the head went out on #up */
  #sent = false;
  /** the head went out to a member, this attempt or an earlier one: the request may have been processed */
  #forwarded = false;
  #early: Buffer[] | null = null;
  #earlyBytes = 0;
  /** body bytes written to members, all attempts together */
  #bodySent = 0;
  #resBytes: ClientBytes | null = null;
  #resBody: BodyFramer | null = null;
  /** some of the response reached the client: no other answer can be given now */
  #responded = false;
  #gotResponseByte = false;
  /** bytes of interim (1xx) heads read so far */
  #interim = 0;
  #resDone = false;
  #status = 0;
  /**
   * The client takes the response's payload without the member's chunks (and its trailers apart);
   * other bodies are their payload as they come, and go on without a sink.
   */
  #dechunk = false;
  /** the member speaks in messages (HTTP/2): its head came parsed, its body comes as payload alone */
  #messages = false;
  /** such a body of unknown length goes to an HTTP/1.1 client in chunks we frame */
  #chunkFrames = false;
  /** the trailers such a member sent; null: none */
  #resTrailers: string | null = null;
  /** such a member's head, held until its body's first bytes (sent together); null: none held */
  #heldHead: ResponseHead | null = null;
  /** the client stream is out of step (or gone) after this exchange: it cannot carry another request */
  #closeClient = false;
  /** the member connection may carry another request afterwards */
  #reusable = true;
  #tried: Member[] | null = null;
  #staleRetried = false;
  #waiter: Waiter | null = null;
  #wait: number = Wait.NONE;
  #tunnel = false;
  #finished = false;
  /** the access log's clock; null when the request is not logged */
  readonly #clock: RequestClock | null;
  /** the request body's clock, for its timeouts; null without a body */
  readonly #bodyClock: BodyClock | null;

  constructor(ctx: HttpServiceContext, side: ClientStream, req: RequestHead, logging: boolean) {
    this.#ctx = ctx;
    this.#side = side;
    this.req = req;
    this.#svc = ctx.service.config;
    this.#http = this.#svc.http!;
    // the first route that matches chooses the pool (or answers itself); a redirect to https comes first
    const routes = ctx.service.routes;
    const access = ctx.service.access;
    const client = routes === null && access === null ? null : this.#clientAddress(side, req);
    // the service's access comes first: a client it turns away is no route's
    const refused = access !== null && !access.allows(client!);
    const route = (this.#route = routes === null || refused || this.#http.redirectHttps !== null ? null : routes.route(req, client!, side.serverName));
    this.#denied = refused ? this.#deny(null) : route?.access != null && !route.access.allows(client!) ? this.#deny(route) : null;
    const action = route?.config.action;
    this.#target = action?.kind === 'pool' && action.rewrite !== null ? rewritePath(req.target, action.rewrite) : req.target;
    this.#dispatcher = route?.dispatcher ?? ctx.service.dispatcher;
    this.#pool = this.#dispatcher.pool;
    // only the hashing algorithms read the client's hash
    this.#hash = usesHash(this.#pool.algorithm) ? side.hash : 0;
    const persistence = this.#dispatcher.persistence;
    this.#sticky = persistence === null ? null : new Sticky(persistence, req, client ?? this.#clientAddress(side, req));
    this.#key = this.#sticky?.key ?? null;
    this.#headers = editsHeaders(this.#http.headers, route?.config.headers, this.#http.requestId) ? this.#headerEditor(side, req, route) : null;
    this.#inAtStart = side.bytesIn;
    this.#outAtStart = side.bytesOut;
    this.#clock = logging ? new RequestClock() : null;
    if (req.chunked) this.#reqBody = new BodyFramer().chunked(400, this.#http.limits.headers);
    else if (req.contentLength > 0) this.#reqBody = new BodyFramer().length(req.contentLength);
    else this.#reqBody = NO_BODY;
    this.#bodyClock = this.#reqBody.done ? null : new BodyClock(side.requestStart);
  }

  /** The client as persistence sees it: behind trusted proxies, the address X-Forwarded-For names. */
  #clientAddress(side: ClientStream, req: RequestHead): string {
    const trusted = this.#http.trustedProxies;
    if (trusted.length === 0) return side.client.address;
    return trustedProxies(trusted).clientOf(side.client.address, req.forwardedFor ?? undefined);
  }

  /** The request's header rules and id (services with either only). */
  #headerEditor(side: ClientStream, req: RequestHead, route: LiveRoute | null): HeaderEditor {
    const http = this.#http;
    const client = http.trustedProxies.length === 0 ? side.forwardedClient : forwardedAddress(this.#clientAddress(side, req));
    const values = { client, https: side.https, service: this.#ctx.service.name, route: route?.name ?? '' };
    return new HeaderEditor(http.headers, route?.config.headers ?? null, req, values, http.requestId);
  }

  /** The balancer's own address on the connection to the member; null while there is none. */
  get local(): Endpoint | null {
    return this.#up?.connected === true ? this.#up.local : null;
  }

  /** h2 or h2c while its member is spoken to in HTTP/2 (the pool's member-protocol); null for HTTP/1.1 or while it has none. */
  get memberProtocol(): Exclude<MemberProtocol, 'http1'> | null {
    return this.#h2Protocol(this.member);
  }

  #h2Protocol(member: Member | null): Exclude<MemberProtocol, 'http1'> | null {
    const protocol = member === null ? undefined : this.#pool.config.memberProtocol;
    return protocol === undefined || protocol === 'http1' ? null : protocol;
  }

  /** The request body has been read to its end. */
  get requestDone(): boolean {
    return this.#reqBody.done;
  }

  start(): void {
    if (this.#finished) return;
    if (this.#denied !== null) return this.#fail(403, this.#denied);
    const redirect = this.#http.redirectHttps;
    if (redirect !== null) return this.#redirect(redirect.status, redirect.port);
    const limits = this.#ctx.service.rateLimits;
    if (limits !== null) {
      const wait = requestWait(limits, this.#route?.name ?? null, this.req.fields, this.#clientAddress(this.#side, this.req), Date.now());
      if (wait > 0) return this.#fail(429, 'this client is over its rate limit', retryAfterSeconds(wait));
    }
    const action = this.#route?.config.action;
    if (action === undefined || action.kind === 'pool') return this.#dispatch();
    switch (action.kind) {
      case 'redirect':
        return this.#answerRedirect(action.code, expandLocation(action.parts, this.req.host, this.req.target, this.#side.https));
      case 'respond':
        this.#answered(action.status);
        this.#side.sendResponse(action.status, action.contentType, action.body, this.#reqBody.done);
        return this.#finish();
      case 'deny':
        this.#route!.stats.denied++;
        return this.#fail(403, `denied by route ${this.#route!.name}`);
    }
  }

  /** A client the service's access (route null) or the route's turns away: counted there; what it is told. */
  #deny(route: LiveRoute | null): string {
    if (route === null) {
      this.#ctx.service.denied++;
      return 'this client address is not allowed to use this service';
    }
    route.stats.denied++;
    return `this client address is not allowed to use route ${route.name}`;
  }

  // ---- choosing a member ------------------------------------------------------------------

  #dispatch(): void {
    const d = this.#dispatcher;
    const member = d.choose(this.#key, this.#hash, this.#tried);
    if (member !== undefined) return this.#use(member, false);
    switch (d.refusal(this.#key, this.#tried)) {
      case 'unusable':
        return this.#fail(503, 'no member is available to serve this request');
      case 'queue-full':
        return this.#fail(503, 'every member is busy and the queue is full');
    }
    this.#clock?.queueStarted();
    // (the callback is made here, when a request queues, not for every request)
    this.#waiter = d.wait(this.#key, this.#hash, this.#tried, (member) => this.#onQueued(member));
  }

  #onQueued(member: Member | undefined): void {
    // the pool calls this from its timer, or from another connection's release: a throw here
    // ends this exchange's connection, not the process nor the other connection
    try {
      this.#queued(member);
    } catch (err) {
      this.#side.crash(err);
    }
  }

  #queued(member: Member | undefined): void {
    this.#waiter = null;
    this.#clock?.queueEnded();
    if (member === undefined) return this.#fail(503, 'every member stayed busy for the whole queue timeout');
    this.#dispatcher.queued(this.#key, member);
    this.#use(member, false);
  }

  /** Sends on a kept connection to `member`, or opens one (always a new one when `fresh`). */
  #use(member: Member, fresh: boolean): void {
    this.member = member;
    this.#side.member = member;
    if (this.#dispatcher.onMemberDown === 'reselect') member.traffic.add(this);
    const kept = fresh ? null : this.#ctx.members.take(member);
    if (kept !== null) {
      this.#attach(kept);
      return this.#send();
    }
    const members = this.#ctx.members;
    if (this.#side.countedAlone && (this.#pool.config.memberProtocol ?? 'http1') === 'http1' && !members.roomForOne(this.#ctx.log, this.#ctx.service.name)) {
      // a connection of its own for this request would overdraw the descriptor budget (the
      // client's other streams hold theirs): refused before the process runs out, as at accept
      this.#releaseMember(member);
      return this.#refuse('furiwake has no file descriptor to spare for a member connection');
    }
    const up = members.open(member, this.#http, this.#pool.config);
    this.#attach(up);
    if (up.connected) return this.#send(); // a stream on an HTTP/2 session that is up
    this.#wait = Wait.CONNECT;
    this.#side.setDeadline(this.#svc.timeouts.connect);
    this.#clock?.connectStarted();
  }

  #attach(up: Upstream): void {
    this.#detached();
    this.#up = up;
    if (this.#side.countedAlone && up.h2 === null) {
      this.#upCounted = true;
      this.#ctx.members.heldAlone(1);
    }
    this.#sent = false;
    up.user = this;
    up.stream.keepsChunks = true; // a response head may arrive in pieces (kept in #resBytes)
    // ... and is only read: its reads may be lent (upstreamData copies what it keeps of them)
    if (up.stream.borrows !== undefined) up.stream.borrows = true;
  }

  /** A throw escaped the handling of the member connection's event: the client connection ends. */
  upstreamFailed(err: unknown): void {
    this.#side.crash(err);
  }

  upstreamConnected(up: Upstream): void {
    if (up !== this.#up) return;
    this.#clock?.connectEnded();
    this.#send();
  }

  // ---- the request ------------------------------------------------------------------------

  #send(): void {
    const up = this.#up!;
    const side = this.#side;
    up.requests++;
    const forwarding: ForwardingContext = {
      forwarded: this.#http.forwarded,
      client: side.forwardedClient,
      https: side.https,
      memberHost: up.member.endpoint,
      close: this.#http.memberKeepAlive.maxIdle === 0,
      target: this.#target,
      headers: this.#headers,
    };
    let flowing: boolean;
    const h2 = up.h2;
    if (h2 !== null) {
      // an HTTP/2 member takes the request as a header list, made from the request as read
      const early = this.#early;
      flowing = h2.sendRequest(memberRequestList(this.req, forwarding, h2.scheme), early === null ? null : early.length === 1 ? early[0] : Buffer.concat(early));
      this.#bodySent += this.#earlyBytes;
      this.#early = null;
      this.#earlyBytes = 0;
    } else if (this.#early === null) {
      const head = memberRequestHead(this.req, forwarding);
      flowing = up.stream.writeLatin1(head);
    } else {
      // the head and the body that came with it, in one write (one packet when it fits)
      flowing = up.stream.write(Buffer.concat([Buffer.from(memberRequestHead(this.req, forwarding), 'latin1'), ...this.#early]));
      this.#bodySent += this.#earlyBytes;
      this.#early = null;
      this.#earlyBytes = 0;
    }
    this.#sent = true;
    this.#forwarded = true;
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
    this.#bodyClock?.pause();
    this.#side.pauseReading();
  }

  #resumeBody(): void {
    this.#bodyClock?.resume();
    this.#side.resumeReading();
  }

  /** The client can take more: the member may send on. */
  clientDrain(): void {
    const stream = this.#up?.stream;
    stream?.release?.(); // the member's chunks the client's writes held are free
    stream?.resume();
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
    const clock = this.#bodyClock;
    const idle = this.#svc.timeouts.idle;
    const clientsTurn = clock !== null && !this.#reqBody.done && !clock.paused && !this.#responded;
    this.#side.setDeadline(clientsTurn ? clock.deadline(this.#http.timeouts, idle, this.#reqBody.seen) : idle);
  }

  // ---- the response -----------------------------------------------------------------------

  upstreamData(chunk: Buffer, lent = false): void {
    if (this.#tunnel) {
      this.#side.setDeadline(this.#svc.timeouts.idle);
      if (!this.#side.sendBody(lent ? copyOf(chunk) : chunk)) this.#up!.stream.pause();
      return;
    }
    if (!this.#gotResponseByte) {
      this.#gotResponseByte = true;
      this.#clock?.firstByteCame();
    }
    if (this.#resBody === null) return this.#headData(chunk, lent);
    this.#bodyData(lent ? copyOf(chunk) : chunk, 0);
  }

  /** An HTTP/2 member's head, parsed (h2-member-stream.ts): no bytes to read a head from. */
  upstreamHead(res: ResponseHead | HttpError): void {
    if (!this.#gotResponseByte) {
      this.#gotResponseByte = true;
      this.#clock?.firstByteCame();
    }
    if (res instanceof HttpError) return this.#memberFailed(res);
    if (res.status < 200) {
      // (its status line and blank line count too, as in an HTTP/1.1 member's bytes: 1xx heads without fields are no free flood)
      if ((this.#interim += INTERIM_LINES + res.fields.length) > MAX_INTERIM) return this.#memberFailed(new HttpError(502, `interim (1xx) responses from the member larger than ${MAX_INTERIM} bytes together`));
      if (!this.#side.sendInterim(res)) this.#up?.stream.pause();
      return;
    }
    this.#messages = true;
    this.#responseHead(res, NO_BYTES, false);
  }

  upstreamTrailers(fields: string): void {
    this.#resTrailers = fields;
  }

  /** `lent`: the chunk is valid only during this call; what is kept or sent on of it is copied. */
  #headData(chunk: Buffer, lent: boolean): void {
    const bytes = (this.#resBytes ??= new ClientBytes());
    bytes.push(chunk, lent);
    for (;;) {
      const end = bytes.headEnd(0);
      if (end === -1) {
        // a head with a bare LF or CR never ends as we read it: a 502 now, not a 504 at the response timeout
        if (bytes.bareLineEnd()) this.#memberFailed(new HttpError(502, 'bare LF or CR in the response head from the member'));
        else if (bytes.length > MAX_RESPONSE_HEAD) this.#memberFailed(new HttpError(502, 'response head from the member is too large'));
        else bytes.own();
        return;
      }
      // (also when its end came in the read that took it past the bound)
      if (end > MAX_RESPONSE_HEAD) return this.#memberFailed(new HttpError(502, 'response head from the member is too large'));
      let res: ResponseHead;
      try {
        res = parseResponseHead(bytes.latin1(0, end), this.req.method, bytes.raw);
      } catch (err) {
        return this.#memberFailed(err as HttpError);
      }
      if (res.status >= 100 && res.status < 200 && res.status !== 101) {
        if ((this.#interim += end) > MAX_INTERIM) return this.#memberFailed(new HttpError(502, `interim (1xx) responses from the member larger than ${MAX_INTERIM} bytes together`));
        // 100 Continue and 103 Early Hints: passed on (to a client that can read them)
        if (!this.#side.sendInterim(res)) this.#up?.stream.pause();
        bytes.drop(end);
        if (bytes.length === 0) return;
        continue;
      }
      const restLent = bytes.lent;
      const rest = bytes.viewFrom(end);
      this.#resBytes = null;
      // The body's chunks are written on at once, or reading pauses while a write holds one:
      // bulk reads may land in one buffer again and again (when the client's writes say so).
      if (this.#side.signalsHeldWrites === true) this.#up!.stream.keepsChunks = false;
      if (this.#up!.stream.borrows === true) this.#up!.stream.borrows = false;
      return this.#responseHead(res, rest, restLent);
    }
  }

  /** `lent`: `rest` is valid only during this call (see #headData). */
  #responseHead(res: ResponseHead, rest: Buffer, lent: boolean): void {
    const req = this.req;
    this.#status = res.status;
    const member = this.member;
    if (member !== null) {
      // the member is answering: this request no longer waits on it, so a member that stops
      // serving now (this very answer may eject it) lets the response finish
      member.traffic.delete(this);
      if (res.status >= 500) member.passive.failure('http-5xx');
      else member.passive.success();
    }
    if (res.status === 101) {
      if (req.upgrade === null) return this.#memberFailed(new HttpError(502, 'the member switched protocols unasked'));
      // copied, lent or not: its write may wait, and nothing pauses the member meanwhile (once per tunnel)
      return this.#startTunnel(res, rest.length > 0 ? copyOf(rest) : rest);
    }
    const payloadOnly = !this.#side.passesRawBody(res);
    // (an HTTP/2 member's body of unknown length comes as payload already: nothing to dechunk)
    this.#dechunk = payloadOnly && res.body === 'chunked' && !this.#messages;
    if (res.close) this.#reusable = false;
    if (this.#sticky !== null && this.member !== null) res.fields = this.#sticky.responseFields(res.fields, this.member);
    if (this.#headers !== null) res.fields = this.#headers.response(res.fields);
    const framer = (this.#resBody = new BodyFramer());
    if (res.body === 'none') framer.none();
    else if (res.body === 'length') framer.length(res.contentLength);
    else if (res.body === 'chunked' && !this.#messages) framer.chunked(502, MAX_RESPONSE_HEAD);
    else framer.untilClose(); // (an HTTP/2 member's body of unknown length: until its stream ends)
    if (payloadOnly) framer.keepTrailers();
    else if (this.#messages && res.body === 'chunked') this.#chunkFrames = true;
    const requestDone = this.#reqBody.done;
    if (payloadOnly || rest.length === 0 || framer.done) {
      // an HTTP/2 member's head waits for its first DATA, to go to the client in one write with it
      if (this.#messages && res.body === 'length' && !payloadOnly && !framer.done && requestDone) {
        this.#heldHead = res;
        return this.#awaitNext();
      }
      this.#responded = true;
      this.#side.sendHead(res, requestDone, null, 0);
      if (rest.length > 0) return this.#bodyData(lent ? copyOf(rest) : rest, 0);
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
    // the head and the body bytes that came with it, together (one write when small: the common case)
    if (!this.#side.sendHead(res, requestDone, rest, stop, lent)) this.#up?.stream.pause();
    this.#afterBody(rest, stop);
  }

  #bodyData(chunk: Buffer, start: number): void {
    let stop: number;
    try {
      stop = this.#resBody!.feed(chunk, start, chunk.length, this.#dechunk ? (this.#sink ??= (b, s, e) => this.#payload(b, s, e)) : undefined);
    } catch (err) {
      return this.#memberFailed(err as HttpError);
    }
    if (!this.#dechunk && stop > start) {
      const part = start === 0 && stop === chunk.length ? chunk : chunk.subarray(start, stop);
      const held = this.#heldHead;
      if (held !== null) {
        this.#heldHead = null;
        this.#responded = true;
        if (!this.#side.sendHead(held, true, part, part.length)) this.#up?.stream.pause();
      // a write that waits: one more read meanwhile, into the member stream's other buffer
      } else if (!this.#side.sendBody(this.#chunkFrames ? chunkOf(part) : part) && this.#up?.stream.readAhead?.() !== true) this.#up?.stream.pause();
    }
    this.#afterBody(chunk, stop);
  }

  #afterBody(chunk: Buffer, stop: number): void {
    if (stop < chunk.length) this.#reusable = false;
    if (this.#resBody!.done) return this.#responseDone();
    this.#awaitNext();
  }

  /** the payload sink of a dechunked body, made for the responses that need one */
  #sink: PayloadSink | null = null;

  #payload(buf: Buffer, start: number, end: number): void {
    if (end > start && !this.#side.sendBody(buf.subarray(start, end))) this.#up?.stream.pause();
  }

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
    const trailers = this.#resTrailers ?? this.#resBody!.trailers;
    if (this.#chunkFrames) this.#side.sendBody(Buffer.from(`0\r\n${trailers}\r\n`, 'latin1'));
    else if (trailers !== '') this.#side.sendTrailers(trailers);
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
    this.#side.setDeadline(this.#svc.timeouts.idle);
    this.#side.startTunnel(res, rest);
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
    this.#detached();
    if (this.#finished) return;
    if (this.#tunnel) {
      this.#closeClient = true;
      return this.#finish();
    }
    if (!up.connected) return this.#connectFailed(error);
    const code = (error as NodeJS.ErrnoException | null)?.code;
    // the request's head has a field an HTTP/2 member cannot be sent: the client's fault, not the member's
    if (unsendableHead(code)) return this.#fail(400, `the request has a header field that cannot be sent over HTTP/2 (${code})`);
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
    this.member?.passive.failure('reset');
    if (safe) return this.#tryElsewhere(`the member closed the connection before responding${reason(error)}`);
    this.#failMember(502, `the member closed the connection before responding${reason(error)}`);
  }

  #connectFailed(error: Error | null): void {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (code === 'EMFILE' || code === 'ENFILE') {
      // this process's shortage, not the member's failure: no other member would do better
      this.#releaseMember(this.member!);
      return this.#refuse('furiwake is out of file descriptors');
    }
    this.member!.passive.failure(code === undefined && error?.message.startsWith('connect timeout') === true ? 'connect-timeout' : 'connect');
    this.#tryElsewhere(`cannot connect to a member${reason(error)}`);
  }

  /**
   * Gives the member back (counted as failed unless it only stopped serving) and asks the pool
   * again, while retries last.
   */
  #tryElsewhere(why: string, failed = true): void {
    const member = this.member!;
    if (failed) member.failed++;
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

  /**
   * on-member-down `reselect`: its member stopped serving. The request ends as if the member had
   * failed (though its failures are not counted: an operator's `disabled` is no failure) — retried on another member when that is safe (nothing of the response came, the
   * method is idempotent, no body byte went out), else a 502, or the client is cut off when part of
   * the response head came. A request whose head has arrived left the member's traffic (it is
   * being answered) and is not told. An upgraded connection (a tunnel) is left alone, as tcp's `keep`.
   */
  memberDown(member: Member): void {
    if (this.#finished || member !== this.member || this.#tunnel) return;
    const why = 'the member stopped serving';
    this.#reusable = false;
    this.#dropUpstream();
    if (!this.#gotResponseByte && isIdempotent(this.req.method) && this.#bodySent === 0) return this.#tryElsewhere(why, false);
    this.#fail(502, why);
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
        this.member?.passive.failure('response-timeout');
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
  #fail(status: number, message: string, retryAfter = status === 503 ? RETRY_AFTER : undefined): void {
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
    this.#side.sendError(status, message, this.#reqBody.done, retryAfter);
    this.#finish();
  }

  /**
   * Turns the request away for a shortage of furiwake's own that may pass (no file descriptor to
   * spare). While nothing of it has gone to a member, an HTTP/2 client has its stream reset with
   * REFUSED_STREAM: not processed, safe to send again whatever the method (RFC 9113 §8.7), which
   * browsers, curl and gRPC clients do by themselves. Otherwise, and to HTTP/1.1 clients, 503
   * with Retry-After. The access log and the counts say 503 either way.
   */
  #refuse(message: string): void {
    if (this.#finished) return;
    if (this.#forwarded || this.#responded || !this.#side.refuse()) return this.#fail(503, message);
    this.#dropUpstream();
    this.#answered(503);
    this.#finish();
  }

  #redirect(status: number, port: number): void {
    const host = (this.req.host ?? '').replace(/:\d+$/, '');
    if (host === '') return this.#fail(400, 'no Host to redirect to');
    this.#answerRedirect(status, `https://${host}${port === 443 ? '' : `:${port}`}${this.req.target.startsWith('/') ? this.req.target : '/'}`);
  }

  #answerRedirect(status: number, location: string): void {
    this.#answered(status);
    this.#side.sendRedirect(status, location, this.#reqBody.done);
    this.#finish();
  }

  /** furiwake answers the request itself, with `status`. */
  #answered(status: number): void {
    this.#status = status;
    this.#responded = true;
    this.#resDone = true;
  }

  /**
   * The client went away (or the table aborted it): everything is given back. `status` is what
   * the access log says when no response had begun: 499, or 504 when furiwake gave up at the
   * client's own deadline (gRPC's grpc-timeout) and has answered that itself.
   */
  abort(status = 499): void {
    if (this.#finished) return;
    this.#reusable = false;
    this.#closeClient = true;
    this.#dropUpstream();
    if (!this.#responded) this.#status = status;
    this.#finish();
  }

  /** #up was let go of (kept idle, closed, or gone): the budget no longer counts it for this client. */
  #detached(): void {
    if (!this.#upCounted) return;
    this.#upCounted = false;
    this.#ctx.members.heldAlone(-1);
  }

  /** Lets go of the member connection without keeping it. */
  #dropUpstream(): void {
    const up = this.#up;
    if (up === null) return;
    this.#up = null;
    this.#detached();
    up.user = null;
    up.destroy();
  }

  // ---- the end ----------------------------------------------------------------------------

  #releaseMember(member: Member): void {
    member.traffic.delete(this);
    this.#pool.release(member, 0, 0);
    this.member = null;
    this.#side.member = null;
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    const now = Date.now(); // (once for what follows: the member connection's idle time, the route's, the keep-alive deadline)
    this.#side.setDeadline(0);
    // A request that ends while it waits in the queue (its body broke off, its client went)
    // leaves it: else the member slot the pool gives it later would be held for nobody.
    if (this.#waiter !== null) this.#pool.cancel(this.#waiter);
    this.#waiter = null;
    const up = this.#up;
    this.#up = null;
    this.#detached();
    if (up !== null) {
      if (this.#reusable && this.#resDone && this.#reqBody.done) this.#ctx.members.release(up, this.#http, now);
      else {
        up.user = null;
        if (this.#tunnel) up.stream.closeAfterWrites(); // what the client sent last still goes out
        else up.destroy();
      }
    }
    const side = this.#side;
    const member = this.member;
    if (member !== null) {
      member.traffic.delete(this);
      this.#dispatcher.release(member, this.#key, side.bytesIn - this.#inAtStart, side.bytesOut - this.#outAtStart);
      this.member = null;
    }
    this.#ctx.counts?.count(this.#ctx.service.name, member, this.#status, side.http2 ? HTTP2 : this.req.minor === 0 ? HTTP1_0 : HTTP1_1, member === null ? null : (this.#pool.config.memberProtocol ?? 'http1'));
    const route = this.#route;
    if (route !== null) route.stats.record(this.#status, now - side.requestStart);
    if (this.#clock !== null) {
      // The client as persistence saw it (behind trusted proxies, X-Forwarded-For's), and the
      // peer that carried the request when that is another address.
      const peer = side.client.address;
      const client = this.#clientAddress(side, this.req);
      const memberProtocol = this.#h2Protocol(member);
      logRequest(this.#ctx.log, {
        client,
        ...(client === peer ? {} : { peer }),
        service: this.#ctx.service.name,
        ...(route === null ? {} : { route: route.name }),
        ...(this.#headers === null || this.#headers.requestId === '' ? {} : { requestId: this.#headers.requestId }),
        member: member?.id ?? null,
        protocol: side.http2 ? 'HTTP/2' : this.req.minor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
        ...(memberProtocol === null ? {} : { memberProtocol }),
        method: this.req.method,
        path: this.req.target,
        status: this.#status,
        bytes: side.bytesOut - this.#outAtStart,
      }, this.#clock.stop());
    }
    side.member = null;
    side.exchangeDone(!this.#closeClient, now);
  }
}

/** `part` as one chunk of an HTTP/1.1 chunked body. */
function chunkOf(part: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`, 'latin1'), part, CRLF]);
}
const CRLF = Buffer.from('\r\n', 'latin1');

function reason(error: Error | null): string {
  if (error === null) return '';
  const code = (error as NodeJS.ErrnoException).code;
  return `: ${code ?? error.message}`;
}

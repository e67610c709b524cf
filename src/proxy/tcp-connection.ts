// One client connection of a tcp service: choose a member, connect (trying others on failure),
// then move bytes both ways until both sides are done. It owns two Streams (stream.ts), the
// client's and the member's, and hears all their events. The object is also the connection's
// entry in the connection table, so a connection costs one object and one Map slot.
//
// Phases: head (reading a PROXY header or ClientHello that decides the member) -> waiting (in
// the pool's queue) or connecting -> piping; or refused (turned away with a clean FIN).
//
// Its timeouts (head, connect, idle) are a deadline its listener's sweep looks at
// (deadline-sweep.ts), not a timer of its own. Every way in from the event loop (the streams'
// events, the sweep, the queue's answer) goes through one try/catch at its boundary: a throw that escapes the logic is reported and ends this
// connection with resets, never the process (#crash).

// (imported, not the globals: globalThis.Buffer and .performance are getters, called on every use)
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { hashString, usesHash } from '../balance/index.ts';
import type { HandshakeReader } from '../persistence/tls-session.ts';
import type { ConnectionEntry, ConnectionTable, Endpoint } from '../runtime/connection-table.ts';
import type { Dispatcher } from '../runtime/dispatch.ts';
import type { Member } from '../runtime/member.ts';
import type { MemberTraffic } from '../runtime/member-down.ts';
import type { TrafficList } from '../runtime/member-traffic.ts';
import type { Waiter } from '../runtime/pool.ts';
import type { Service } from '../runtime/service.ts';
import type { ServiceRoutes } from '../runtime/service-routes.ts';
import { ClientHead } from './client-head.ts';
import type { Termination } from './connection-log.ts';
import type { Swept } from './deadline-sweep.ts';
import { proxyHeader } from './proxy-protocol.ts';
import { watchServerHello } from './server-hello.ts';
import type { Stream, StreamEngine, StreamOwner } from './stream.ts';

/** A deadline the next sweep replaces (#connected). */
const UNTIL_NEXT_SWEEP = Number.MAX_SAFE_INTEGER;

/** What a client that waits for a member may send before we stop reading it. */
const HOLD_MAX = 64 * 1024;

type Phase = 'head' | 'waiting' | 'connecting' | 'piping' | 'refused';

/** The stream events other than data, for #streamEvent. */
const StreamEvent = { CONNECTED: 0, END: 1, DRAINED: 2, ERROR: 3, CLOSED: 4 } as const;

/** What a connection tells its listener, which logs and counts it. */
export interface TcpConnectionReporter {
  /** the client was turned away for its PROXY header (malformed, missing or late) */
  headerRefused(conn: TcpConnection, why: string): void;
  /** the client was refused by the service's access (route null) or by a route (its deny or access) */
  denied(client: string, route: string | null): void;
  /** a throw escaped the connection's logic: the connection is ended */
  failed(conn: TcpConnection, err: unknown): void;
  /** the connection is over (its client's place under max-connections-per-client is free) */
  finished(conn: TcpConnection): void;
  /** whether the connection log is written when it ends (its times are read only then) */
  readonly logsConnections: boolean;
}

export class TcpConnection implements ConnectionEntry, StreamOwner, MemberTraffic, Swept {
  readonly id: number;
  readonly protocol = 'tcp' as const;
  readonly service: string;
  readonly startedAt = Date.now();
  member: Member | null = null;
  /** its place in its member's traffic list (member-traffic.ts) */
  trafficPrev: MemberTraffic | null = null;
  trafficNext: MemberTraffic | null = null;
  trafficList: TrafficList<MemberTraffic> | null = null;
  /** its place in its listener's sweep (deadline-sweep.ts) */
  sweepPrev: Swept | null = null;
  sweepNext: Swept | null = null;
  swept = false;
  /** when the phase's timeout passes (ms since epoch; 0: none): head, connect, idle, or the turned-away client's last wait */
  deadline = 0;

  readonly #table: ConnectionTable;
  readonly #svc: Service;
  readonly #engine: StreamEngine;
  readonly #reporter: TcpConnectionReporter;
  /** the service's pool, persistence and retries as they were when the client arrived (or those
   * of the route that took it): a reload does not move a live connection; and the client's persistence key */
  #dispatcher: Dispatcher;
  /** the service's routes when the client arrived; null without any */
  readonly #routes: ServiceRoutes | null;
  #key: string | null = null;
  #client!: Stream;
  #upstream: Stream | null = null;
  #phase: Phase = 'connecting';
  /** streams not yet closed: the entry ends when both are */
  #open = 0;
  #finished = false;
  #head: ClientHead | null = null;
  /** tls-session: the watch on the member's first flight */
  #watch: HandshakeReader | null = null;
  /** the client's bytes read before the member was connected: written to it first */
  #held: Buffer[] | null = null;
  #heldBytes = 0;
  /** the client's FIN came before the member was connected */
  #clientFin = false;
  /** the member sent a byte or its FIN: passive health counted its success (a reset before is a failure) */
  #memberSpoke = false;
  #tried: Member[] | null = null;
  #waiter: Waiter | null = null;
  #connectStarted = 0;
  // For the connection log: why it ended (the first reason wins), its route, and its times (ms)
  #termination: Termination | null = null;
  #route: string | null = null;
  #queueStarted = 0;
  #queueTime = 0;
  #connectTime = 0;
  #firstByteTime = 0;
  /** bytes queued for the readers when the idle deadline last passed */
  #queuedAtTimer = 0;
  /** piping: the bytes read both ways at the last sweep (a change is activity: the idle deadline moves on) */
  #readAtSweep = 0;
  // Addresses cost a getpeername/getsockname each: read when first asked, then kept.
  #clientEndpoint: Endpoint | null = null;
  #vipEndpoint: Endpoint | null = null;
  #localEndpoint: Endpoint | null = null;

  constructor(service: Service, table: ConnectionTable, engine: StreamEngine, reporter: TcpConnectionReporter) {
    this.id = table.nextId();
    this.service = service.name;
    this.#table = table;
    this.#svc = service;
    this.#engine = engine;
    this.#reporter = reporter;
    this.#dispatcher = service.dispatcher;
    this.#routes = service.routes;
  }

  get client(): Endpoint {
    return (this.#clientEndpoint ??= this.#client.remote());
  }

  get vip(): Endpoint {
    return (this.#vipEndpoint ??= this.#client.local());
  }

  get local(): Endpoint | null {
    const upstream = this.#upstream;
    if (this.#phase !== 'piping' || upstream === null) return null;
    return (this.#localEndpoint ??= upstream.local());
  }

  get bytesIn(): number {
    return this.#client.bytesRead;
  }

  get bytesOut(): number {
    return this.#client.bytesWritten;
  }

  /** Why it ended (the first cause seen); while it lives, what ends it if nothing else does. */
  get termination(): Termination {
    return this.#termination ?? 'client-closed';
  }

  /** The member it is with, or else the last it tried to connect to (for the connection log). */
  get lastMember(): Member | null {
    return this.member ?? this.#tried?.at(-1) ?? null;
  }

  /** The route that took it; null when the service's pool did. */
  get route(): string | null {
    return this.#route;
  }

  /** ms waiting in the queue, connecting to the member, and from arrival to the member's first byte (0: did not happen). */
  get times(): { queue: number; connect: number; firstByte: number } {
    return { queue: this.#queueTime, connect: this.#connectTime, firstByte: this.#firstByteTime };
  }

  #ending(why: Termination): void {
    this.#termination ??= why;
  }

  /** Takes an accepted client (the engine's token). */
  start(accepted: unknown): void {
    this.#client = this.#engine.adopt(accepted, this);
    try {
      this.#start();
    } catch (err) {
      this.#crash(err);
    }
  }

  #start(): void {
    this.#open = 1;
    this.#table.add(this);
    const config = this.#svc.config;
    // the connection log names the client when the socket may be gone: read it while it is here
    if (config.accessLog === true) this.#clientEndpoint = this.#client.remote();
    const readSni = this.#routes?.readsSni === true;
    const readHello = readSni || this.#dispatcher.persistence?.method.keySource === 'tls-hello';
    if (!config.acceptProxy && !readHello) return this.#begin(null);
    // What decides the member comes first: a PROXY header (a balancer in front says who the
    // client is: that address is the client from here on) and/or the ClientHello (its session
    // for persistence, its server name for routes). Both within the connect timeout; a client
    // that sends no ClientHello by then (or not TLS) goes on without one.
    this.#phase = 'head';
    this.#head = new ClientHead(config.acceptProxy, readHello, readSni);
    this.#arm(config.timeouts.connect, this.startedAt);
    this.#client.resume();
  }

  abort(): void {
    this.#ending('terminated');
    this.#client.close();
    this.#upstream?.close();
  }

  /** An operator ends it: a reset on both sides, so neither takes the cut for a normal end. */
  terminate(): void {
    this.#ending('terminated');
    this.#client.reset();
    this.#upstream?.reset();
  }

  /** on-member-down `close`: its member stopped serving, so both sides are reset. */
  memberDown(member: Member): void {
    if (member !== this.member) return;
    try {
      this.terminate();
    } catch (err) {
      this.#crash(err);
    }
  }

  /** The head is read (`head`; null when none was wanted): access, routes, persistence, then a member. */
  #begin(head: ClientHead | null): void {
    if (!this.#admitted(head?.serverName ?? null)) return;
    const persistence = this.#dispatcher.persistence;
    if (persistence?.method.keySource === 'address') this.#key = persistence.clientKey(this.client.address);
    else if (head?.hello != null && persistence?.method.keySource === 'tls-hello') this.#key = persistence.helloKey(head.hello);
    this.#dispatch();
  }

  /**
   * Whether the client may go on: the service's access (here only behind accept-proxy, the
   * listener checked the peer otherwise), then the first route that matches (its deny, its
   * access; its pool from here on). A client refused is closed at once with a reset.
   */
  #admitted(sni: string | null): boolean {
    const svc = this.#svc;
    const access = svc.access;
    if (access !== null && svc.config.acceptProxy && !access.allows(this.client.address)) {
      svc.denied++;
      return this.#refuse(null);
    }
    const route = this.#routes?.routeConnection(this.client.address, sni) ?? null;
    if (route === null) return true;
    this.#route = route.name;
    route.stats.connections++;
    if (route.dispatcher === null || (route.access !== null && !route.access.allows(this.client.address))) {
      route.stats.denied++;
      return this.#refuse(route.name);
    }
    this.#dispatcher = route.dispatcher;
    return true;
  }

  #refuse(route: string | null): false {
    this.#ending('denied');
    this.#reporter.denied(this.client.address, route);
    this.#held = null;
    this.#client.reset();
    return false;
  }

  /** The head is read (or failed, or the client finished, or the time ran out). */
  #headDone(): void {
    const head = this.#head!;
    this.#head = null;
    this.#disarm();
    if (head.error !== null) {
      this.#ending('proxy-header');
      this.#reporter.headerRefused(this, head.error);
      return this.#client.reset();
    }
    if (head.addresses !== null) {
      this.#clientEndpoint = head.addresses.source;
      this.#vipEndpoint = head.addresses.destination;
    }
    if (head.restBytes > 0) {
      this.#held = head.rest;
      this.#heldBytes = head.restBytes;
    }
    this.#client.pause();
    this.#begin(head);
  }

  /** Choose a member and connect; when all are full, wait in the pool's queue; when none is usable, refuse. */
  #dispatch(): void {
    const d = this.#dispatcher;
    // only the hashing algorithms read the client's hash: the others skip the getpeername
    const hash = usesHash(d.pool.algorithm) ? hashString(this.client.address) : 0;
    const member = d.choose(this.#key, hash, this.#tried);
    if (member !== undefined) return this.#connect(member);
    switch (d.refusal(this.#key, this.#tried)) {
      // No member is up and enabled: say so at once (a reset) rather than leave the client hanging.
      case 'unusable':
        this.#ending(this.#tried === null ? 'no-member' : 'connect-failed');
        return this.#client.reset();
      // Every member is at its limit and the queue is full: turned away cleanly.
      case 'queue-full':
        this.#ending('queue-full');
        return this.#turnAway();
    }
    this.#phase = 'waiting';
    this.#queueStarted = performance.now();
    // (the callback is made here, for a client that queues, not for every connection)
    this.#waiter = d.wait(this.#key, hash, this.#tried, (member) => this.#onQueued(member));
    // Read while waiting (what comes is held, bounded), so a client that leaves frees its place.
    this.#client.resume();
  }

  #onQueued(member: Member | undefined): void {
    try {
      this.#queued(member);
    } catch (err) {
      this.#crash(err);
    }
  }

  #queued(member: Member | undefined): void {
    this.#waiter = null;
    this.#queueTime += performance.now() - this.#queueStarted;
    if (member === undefined) {
      this.#ending('queue-timeout');
      return this.#turnAway();
    }
    this.#dispatcher.queued(this.#key, member);
    this.#connect(member);
  }

  /**
   * A clean close (FIN) with nothing served: the balancer is full, not broken. What the client
   * sends is read and dropped, since closing with unread bytes would send a reset instead.
   */
  #turnAway(): void {
    this.#phase = 'refused';
    this.#held = null;
    this.#arm(this.#svc.config.timeouts.connect);
    this.#client.resume();
    this.#client.end();
  }

  #connect(member: Member): void {
    this.member = member;
    if (this.#dispatcher.onMemberDown === 'close') member.traffic.add(this);
    // (the first connect of a client that came just now: its arrival's clock read serves)
    const now = this.#phase === 'connecting' && this.#tried === null ? this.startedAt : Date.now();
    this.#phase = 'connecting';
    this.#connectStarted = performance.now();
    this.#arm(this.#svc.config.timeouts.connect, now);
    this.#upstream = this.#engine.connect(member.ip, member.port, this);
    this.#open++; // (counted once made: a connect that throws leaves no stream to wait for)
  }

  #connectFailed(code: string): void {
    const member = this.member!;
    // out of descriptors is this process's shortage, not the member's failure
    if (code !== 'EMFILE' && code !== 'ENFILE') {
      member.failed++;
      member.passive.failure(code === 'ETIMEDOUT' ? 'connect-timeout' : 'connect');
    }
    member.traffic.delete(this);
    this.#dispatcher.pool.release(member, 0, 0);
    this.member = null;
    this.#upstream = null;
    this.#disarm();
    if (this.#client.closed) return; // its close finishes the entry
    (this.#tried ??= []).push(member);
    if (this.#tried.length > this.#dispatcher.retries) {
      this.#ending('connect-failed');
      return this.#client.reset();
    }
    this.#dispatch();
  }

  #connected(stream: Stream): void {
    if (stream !== this.#upstream) return;
    const member = this.member!;
    const config = this.#svc.config;
    this.#phase = 'piping';
    this.#connectTime = performance.now() - this.#connectStarted;
    member.recordLatency(this.#connectTime);
    // One idle deadline: every byte either way is read on one of the two streams, and a sweep
    // that finds more read than at the last moves it on (so it is late by a sweep's interval at
    // most, and a read costs nothing). A slow reader taking what waits for it is activity too
    // (see #timedOut). The first sweep from now sets it (as if it saw a read): no clock read here.
    this.deadline = UNTIL_NEXT_SWEEP;
    this.#readAtSweep = -1;
    let flowing = true;
    if (config.proxyProtocol !== null) flowing = stream.write(proxyHeader(config.proxyProtocol, 'tcp', this.client, this.vip));
    const persistence = this.#dispatcher.persistence;
    if (persistence?.method.keySource === 'tls-hello') this.#watch = watchServerHello(persistence, member);
    const held = this.#held;
    if (held !== null) {
      this.#held = null;
      for (const chunk of held) flowing = stream.write(chunk) && flowing;
    }
    // A FIN the client sent before we got here is passed on now.
    if (this.#clientFin) stream.end();
    else if (flowing) this.#client.resume();
    else this.#client.pause();
    stream.resume();
  }

  // The stream's events. streamData, once per chunk, has its own try/catch; the others enter
  // through #streamEvent's.
  streamConnected(stream: Stream): void {
    this.#streamEvent(StreamEvent.CONNECTED, stream, '');
  }

  streamEnd(stream: Stream): void {
    this.#streamEvent(StreamEvent.END, stream, '');
  }

  streamDrained(stream: Stream): void {
    this.#streamEvent(StreamEvent.DRAINED, stream, '');
  }

  streamError(stream: Stream, code: string): void {
    this.#streamEvent(StreamEvent.ERROR, stream, code);
  }

  streamClosed(stream: Stream): void {
    this.#streamEvent(StreamEvent.CLOSED, stream, '');
  }

  /** `code`: the errno name of an ERROR; '' for the others. */
  #streamEvent(event: number, stream: Stream, code: string): void {
    try {
      switch (event) {
        case StreamEvent.CONNECTED:
          return this.#connected(stream);
        case StreamEvent.END:
          return this.#end(stream);
        case StreamEvent.DRAINED:
          return this.#drained(stream);
        case StreamEvent.ERROR:
          return this.#error(stream, code);
        case StreamEvent.CLOSED:
          return this.#closed(stream);
      }
    } catch (err) {
      this.#crash(err);
    }
  }

  streamData(stream: Stream, chunk: Buffer): boolean {
    try {
      return this.#data(stream, chunk);
    } catch (err) {
      this.#crash(err);
      return false;
    }
  }

  #data(stream: Stream, chunk: Buffer): boolean {
    if (stream === this.#upstream) {
      if (!this.#memberSpoke) this.#memberServed();
      if (this.#watch !== null && this.#watch.push(chunk) !== 'reading') this.#watch = null;
      // a write that waits: one more read meanwhile, into the stream's other buffer
      return this.#client.write(chunk) || stream.readAhead?.() === true;
    }
    switch (this.#phase) {
      case 'piping':
        return this.#upstream!.write(chunk) || stream.readAhead?.() === true;
      case 'head':
        // The head keeps its chunks while it says they were handled: safe, as every read before
        // the first that fills the read buffer is a copy, and such a read completes the head
        // (both its bounds are smaller; see HandleStream.read).
        if (!this.#head!.push(chunk)) return true;
        this.#headDone();
        return this.#readsOn();
      case 'refused':
        return true;
      default:
        // Waiting or connecting: held until the member is connected. Copied unless the stream
        // keeps every chunk's memory: a stream that reads in bulk reads again into this chunk's
        // memory once we return true (the held bytes would be overwritten).
        (this.#held ??= []).push(stream.keepsChunks ? chunk : Buffer.from(chunk));
        this.#heldBytes += chunk.length;
        return this.#heldBytes < HOLD_MAX;
    }
  }

  /** After the head: whether the client is read on, as #dispatch asked (waiting in the queue, or turned away). */
  #readsOn(): boolean {
    const phase = this.#phase;
    return phase === 'waiting' ? this.#heldBytes < HOLD_MAX : phase === 'refused';
  }

  #end(stream: Stream): void {
    if (stream === this.#upstream) {
      if (!this.#memberSpoke) this.#memberServed();
      this.#ending('member-closed');
      return this.#client.end();
    }
    switch (this.#phase) {
      case 'piping':
        this.#ending('client-closed');
        return this.#upstream!.end();
      case 'head':
        this.#clientFin = true;
        this.#head!.stop('connection closed before a PROXY header');
        return this.#headDone();
      case 'refused':
        return; // our FIN is sent: the client stream closes itself
      default:
        this.#ending('client-closed');
        this.#clientFin = true;
    }
  }

  /** The member's first byte or FIN: a success for passive health (a connect alone is not). */
  #memberServed(): void {
    this.#memberSpoke = true;
    // (a clock read only for the connection log)
    if (this.#reporter.logsConnections) this.#firstByteTime = Date.now() - this.startedAt;
    this.member?.passive.success();
  }

  /** What `stream` was written is out: the other stream's chunks it held are free, and it reads on. */
  #drained(stream: Stream): void {
    if (this.#phase !== 'piping') return;
    const reader = stream === this.#upstream ? this.#client : this.#upstream!;
    reader.release?.();
    reader.resume();
  }

  #error(stream: Stream, code: string): void {
    if (stream === this.#upstream && this.#phase === 'connecting') return this.#connectFailed(code);
    if (stream !== this.#upstream && stream !== this.#client) return;
    if (stream === this.#upstream && !this.#memberSpoke) this.member?.passive.failure('reset');
    // a reset says more than a close before it
    const was = this.#termination;
    if (was === null || was === 'client-closed' || was === 'member-closed') this.#termination = stream === this.#upstream ? 'member-reset' : 'client-reset';
    // A reset on one side is passed on as a reset on the other, as a TCP proxy should.
    this.#client.reset();
    this.#upstream?.reset();
  }

  #closed(stream: Stream): void {
    // counted first: a throw below must not keep the entry open for ever (see #crash)
    const last = --this.#open === 0;
    if (stream === this.#client && this.#phase !== 'piping') {
      // gone while waiting, connecting or reading its head: give everything back now
      if (this.#waiter !== null) this.#dispatcher.pool.cancel(this.#waiter);
      this.#waiter = null;
      this.#upstream?.close();
      this.#disarm();
    }
    if (last) this.#finish();
  }

  /** The listener's sweep: the one deadline (head or connect timeout, idle timeout, or the turned-away client's last wait). */
  sweep(now: number): void {
    const deadline = this.deadline;
    if (deadline === 0) return;
    try {
      if (this.#phase === 'piping') {
        const read = this.#client.bytesRead + this.#upstream!.bytesRead;
        if (read !== this.#readAtSweep) {
          this.#readAtSweep = read;
          this.deadline = now + this.#svc.config.timeouts.idle;
          return;
        }
      }
      if (deadline <= now) this.#timedOut();
    } catch (err) {
      this.#crash(err);
    }
  }

  #timedOut(): void {
    this.deadline = 0;
    switch (this.#phase) {
      case 'head':
        this.#head!.stop(`no PROXY header within ${this.#svc.config.timeouts.connect} ms`);
        return this.#headDone();
      case 'connecting':
        this.#upstream!.close();
        return this.#connectFailed('ETIMEDOUT');
      case 'piping':
        if (this.#writing()) return this.#arm(this.#svc.config.timeouts.idle);
        this.#ending('idle-timeout');
        return this.abort();
      default:
        return this.abort();
    }
  }

  /**
   * The last resort: a throw escaped the logic. It is reported (logged and counted), and this
   * connection ends with resets both ways; its streams' closes then give back the member and the
   * entry. When the throw came from the last close itself, the entry is removed here.
   */
  #crash(err: unknown): void {
    this.#ending('error');
    try {
      this.#reporter.failed(this, err);
    } catch {
      // a reporter that throws must not stop the cleanup below
    }
    try {
      this.#disarm();
      if (this.#waiter !== null) this.#dispatcher.pool.cancel(this.#waiter);
      this.#waiter = null;
      this.#client.reset();
      this.#upstream?.reset();
    } catch {
      // nothing more can be done for this connection's streams
    }
    if (this.#open > 0) return;
    try {
      this.#finish();
    } catch {
      // the member's count may be off; the entry must go all the same
    }
    this.#table.remove(this);
  }

  /**
   * Whether bytes still wait to be taken by a reader and fewer wait than at the last look: a
   * slow reader making progress is not idle, though nothing was read meanwhile (HAProxy counts
   * send progress as activity too). Checked only when the idle deadline passes.
   */
  #writing(): boolean {
    const queued = this.#client.bytesQueued + (this.#upstream?.bytesQueued ?? 0);
    const progress = queued > 0 && queued !== this.#queuedAtTimer;
    this.#queuedAtTimer = queued;
    return progress;
  }

  /** `now`: Date.now(), or a time read just before */
  #arm(ms: number, now = Date.now()): void {
    this.deadline = now + ms;
  }

  #disarm(): void {
    this.deadline = 0;
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#disarm();
    this.#reporter.finished(this);
    const member = this.member;
    if (member !== null) {
      member.traffic.delete(this);
      this.#dispatcher.release(member, this.#key, this.bytesIn, this.bytesOut);
      this.member = null;
    }
    this.#table.remove(this);
  }
}

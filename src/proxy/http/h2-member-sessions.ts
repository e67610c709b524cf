// HTTP/2 connections to members (pool `member-protocol: h2 | h2c`), shared by the requests in
// flight: each request is one stream (h2-member-stream.ts) on one of a member's sessions. A
// request goes on the first session with a free stream slot (under the member's
// SETTINGS_MAX_CONCURRENT_STREAMS); when every session is full, another is opened, up to
// `http2.max-connections-per-member`; beyond that the request waits (within the service's
// connect timeout) for a slot to free. A session the member sent GOAWAY on, or that failed,
// takes no new stream; those in flight finish (nghttp2 refuses the ones the member says it did
// not process, and the stream sends them again). Each session is pinged every `ping-interval`:
// one unanswered for `ping-timeout` is dead and closed. Sessions with no stream close after the
// service's member keep-alive idle timeout; those of a member that stops serving close at once.

import http2, { type ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { MemberTlsConfig } from '../../config/http-types.ts';
import type { MemberProtocol, PoolHttp2Config } from '../../config/member-protocol-schema.ts';
import type { Member } from '../../runtime/member.ts';
import type { MemberTraffic } from '../../runtime/member-down.ts';
import type { TrafficList } from '../../runtime/member-traffic.ts';
import type { ResourceCounts } from '../../runtime/resources.ts';

/** What a session asks of a request's stream (h2-member-stream.ts implements it; declared here so the two files do not import each other). */
export interface H2MemberStream {
  assign(session: H2MemberSession, ready: boolean): void;
  sessionReady(): void;
  sessionFailed(error: Error): void;
  detach(): void;
  requeue(): void;
}

/** Streams assumed open-able on a session before the member's SETTINGS say (RFC 9113 6.5.2 recommends at least 100). */
const ASSUMED_STREAMS = 100;
/**
 * The connection's receive window (RFC 9113 6.9): as large as that many streams' windows together
 * (each stream's stays HTTP/2's 65,535 bytes, which bounds what a stream whose client does not
 * read leaves with us). With the default 65,535, all the streams of a session together could
 * receive 64 KiB per round trip.
 */
const CONNECTION_WINDOW = ASSUMED_STREAMS * 65_535;

// What a member may send on a session. A member is trusted less than it seems (a broken or taken
// one): bounds as an HTTP/1.1 member's response head has (exchange.ts, response-head.ts), and on
// what nghttp2 keeps for it. A member past one has its stream reset or its session ended by
// nghttp2; its requests fail as the member's failures, other sessions and members go on.
/** SETTINGS_MAX_HEADER_LIST_SIZE we announce, and enforce: a response head (or trailers) of at most 64 KiB */
const MEMBER_HEADER_LIST = 64 * 1024;
/** fields in one response head or trailers, pseudo-fields included (an HTTP/1.1 member's head may hold 500) */
const MEMBER_HEADER_PAIRS = 501;
/** MB nghttp2 may hold for one session (its buffers, header tables, streams' queued frames) */
const MEMBER_SESSION_MEMORY = 10;
/** entries in one SETTINGS frame (RFC 9113 defines 6; more is a flood) */
const MEMBER_MAX_SETTINGS = 32;
/** our PINGs unanswered at once (one at a time is sent: more means a bug, not a member) */
const MEMBER_OUTSTANDING_PINGS = 4;

/** How a pool's requests reach its members over HTTP/2 (per request: the pool's config as it is then). */
export interface H2Route {
  protocol: Exclude<MemberProtocol, 'http1'>;
  settings: PoolHttp2Config;
  /** the service's member-tls (h2 only; null: TLS with the system's CAs, certificates verified) */
  memberTls: MemberTlsConfig | null;
  /** a session with no stream closes after this long (ms): the service's member keep-alive idle timeout */
  idleTimeout: number;
}

/** One HTTP/2 connection to a member. */
export class H2MemberSession {
  readonly session: ClientHttp2Session;
  readonly member: Member;
  readonly protocol: H2Route['protocol'];
  readonly #owner: MemberSessions;
  /** the connection is up and its first SETTINGS exchanged: streams may be opened */
  ready = false;
  /** no new stream on it: GOAWAY came, it failed, or it is being closed */
  closing = false;
  /** streams given this session and not yet closed */
  streams = 0;
  /** when its last stream closed (ms since epoch), for the idle timeout */
  idleSince = Date.now();
  #pingTimer: NodeJS.Timeout | null = null;
  #pingPending = false;
  readonly #settings: PoolHttp2Config;
  readonly #idleTimeout: number;
  /** what broke it, told to the streams that were waiting for it */
  error: Error | null = null;
  /** streams given it before it was ready: told when it is, or that it failed */
  #pending: H2MemberStream[] = [];

  constructor(owner: MemberSessions, member: Member, route: H2Route) {
    this.#owner = owner;
    this.member = member;
    this.protocol = route.protocol;
    this.#settings = route.settings;
    this.#idleTimeout = route.idleTimeout;
    const tlsConfig = route.memberTls;
    const ip = member.ip;
    const port = member.port;
    const scheme = route.protocol === 'h2' ? 'https' : 'http';
    const authority = `${scheme}://${net.isIPv6(ip) ? `[${ip}]` : ip}:${port}`;
    const session = http2.connect(authority, {
      // a pushed stream would have no one to read it (nor its errors): push is refused, and a
      // PUSH_PROMISE is then the member's protocol error, which ends its connection
      settings: { enablePush: false, maxHeaderListSize: MEMBER_HEADER_LIST },
      maxHeaderListPairs: MEMBER_HEADER_PAIRS,
      maxSessionMemory: MEMBER_SESSION_MEMORY,
      maxSettings: MEMBER_MAX_SETTINGS,
      maxOutstandingPings: MEMBER_OUTSTANDING_PINGS,
      // a request with a field repeated that should be single (two User-Agent) goes as it came,
      // as to an HTTP/1.1 member: node would otherwise throw, and the client's request would
      // fail as if the member had (a passive-health failure any client could cause). Node reads
      // the option on client sessions too; its types name it only on servers' (hence the cast).
      strictSingleValueFields: false,
      createConnection: () => {
        if (route.protocol === 'h2c') return net.connect({ host: ip, port, noDelay: true });
        const servername = tlsConfig?.sni ?? (net.isIP(member.host) === 0 ? member.host : undefined);
        return tls.connect({
          host: ip, port, servername, ALPNProtocols: ['h2'],
          rejectUnauthorized: tlsConfig?.verify ?? true, ca: tlsConfig?.ca ?? undefined,
        });
      },
    } as http2.ClientSessionOptions);
    this.session = session;
    session.on('error', this.#onError);
    session.on('goaway', this.#onGoaway);
    session.on('close', this.#onClose);
    session.once('remoteSettings', this.#onReady);
    session.once('connect', this.#onConnect);
  }

  #onConnect = (): void => {
    if (this.session.destroyed) return;
    try {
      this.session.setLocalWindowSize(CONNECTION_WINDOW);
    } catch (err) {
      this.fail(err as Error);
    }
  };

  /** Streams this session may still take. */
  get free(): number {
    if (this.closing || this.session.destroyed) return 0;
    const max = this.ready ? this.session.remoteSettings.maxConcurrentStreams ?? ASSUMED_STREAMS : ASSUMED_STREAMS;
    return Math.min(max, ASSUMED_STREAMS * 100) - this.streams;
  }

  #onReady = (): void => {
    if (this.closing) return;
    // a member that speaks TLS but not h2 (ALPN chose nothing, or http/1.1) cannot be used
    if (this.protocol === 'h2' && this.session.alpnProtocol !== 'h2') {
      return this.fail(new Error(`the member did not choose h2 in ALPN (${this.session.alpnProtocol ?? 'none'})`));
    }
    this.ready = true;
    this.#schedulePing();
    // those given it before the member said how many streams it takes: the ones beyond go elsewhere
    const room = this.free + this.#pending.length;
    const pending = this.#pending.splice(0);
    const overflow = pending.length > room ? pending.splice(Math.max(0, room)) : null;
    for (const stream of pending) stream.sessionReady();
    if (overflow !== null) {
      this.streams -= overflow.length;
      for (const stream of overflow) stream.detach();
    }
    this.#owner.ready(this);
    if (overflow !== null) for (const stream of overflow) stream.requeue();
  };

  /** Gives `stream` a slot: it starts now, or when the connection is ready. */
  take(stream: H2MemberStream): void {
    this.streams++;
    if (!this.ready) this.#pending.push(stream);
    stream.assign(this, this.ready);
  }

  /** A stream given it before it was ready went away. */
  drop(stream: H2MemberStream): void {
    const i = this.#pending.indexOf(stream);
    if (i !== -1) this.#pending.splice(i, 1);
  }

  #onError = (err: Error): void => {
    this.error ??= err;
    this.closing = true;
  };

  #onGoaway = (): void => {
    // streams above the member's last-stream-id are refused by nghttp2 (REFUSED_STREAM): sent again elsewhere
    this.closing = true;
    this.#owner.closing(this);
  };

  #onClose = (): void => {
    this.closing = true;
    this.ready = false;
    this.#stopPing();
    // a connection that never became ready: its streams failed to connect
    const error = this.error ?? Object.assign(new Error('the member closed the connection before its SETTINGS'), { code: 'ECONNRESET' });
    for (const stream of this.#pending.splice(0)) stream.sessionFailed(error);
    this.#owner.closed(this);
  };

  /** Closes it if it has had no stream for the idle timeout. */
  sweep(now: number): void {
    if (this.streams === 0 && this.ready && !this.closing && this.idleSince + this.#idleTimeout <= now) this.close();
  }

  /** A stream on it closed. */
  streamClosed(): void {
    this.streams--;
    if (this.streams === 0) this.idleSince = Date.now();
    this.#owner.slotFreed(this);
  }

  /** No new streams; those in flight finish, then the connection closes. */
  close(): void {
    this.closing = true;
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  /** Broken (a ping unanswered, an unusable protocol): closed now, streams and all. */
  fail(error: Error): void {
    this.error ??= error;
    this.closing = true;
    this.session.destroy(error);
  }

  #schedulePing(): void {
    const every = this.#settings.pingInterval;
    if (every === 0 || this.closing) return;
    this.#pingTimer = setTimeout(this.#ping, every);
    this.#pingTimer.unref();
  }

  #stopPing(): void {
    if (this.#pingTimer !== null) clearTimeout(this.#pingTimer);
    this.#pingTimer = null;
  }

  #ping = (): void => {
    this.#pingTimer = null;
    if (this.closing || this.session.destroyed) return;
    try {
      this.#pingPending = this.session.ping(this.#pong);
    } catch {
      this.#pingPending = false;
    }
    if (!this.#pingPending) return this.#schedulePing();
    this.#pingTimer = setTimeout(this.#pingLost, this.#settings.pingTimeout);
    this.#pingTimer.unref();
  };

  #pong = (err: Error | null): void => {
    if (!this.#pingPending) return;
    this.#pingPending = false;
    this.#stopPing();
    if (err !== null) return; // the session is going: 'close' follows
    this.#schedulePing();
  };

  #pingLost = (): void => {
    this.#pingTimer = null;
    if (!this.#pingPending) return;
    this.#pingPending = false;
    this.fail(Object.assign(new Error(`the member did not answer a PING within ${this.#settings.pingTimeout} ms`), { code: 'ETIMEDOUT' }));
  };
}

/**
 * The sessions of one member and the streams waiting for a slot on them; in the member's traffic
 * while it is kept (a member that stops serving closes its sessions).
 */
class MemberSessions implements MemberTraffic {
  readonly member: Member;
  readonly sessions: H2MemberSession[] = [];
  readonly waiting: H2MemberStream[] = [];
  readonly #all: H2MemberSessions;
  /** the session the last request was given: tried first */
  #current: H2MemberSession | null = null;
  trafficPrev: MemberTraffic | null = null;
  trafficNext: MemberTraffic | null = null;
  trafficList: TrafficList<MemberTraffic> | null = null;

  constructor(all: H2MemberSessions, member: Member) {
    this.#all = all;
    this.member = member;
  }

  /** Gives `stream` a session now, or queues it. */
  place(stream: H2MemberStream, route: H2Route): void {
    // the common cases without a walk over the sessions: the last one used has room; or requests
    // already wait (every session is full, and no other may be opened), and this one waits behind them
    const current = this.#current;
    if (current !== null && current.protocol === route.protocol && current.free > 0) return current.take(stream);
    if (this.waiting.length > 0) {
      this.waiting.push(stream);
      return;
    }
    const sessions = this.sessions;
    let opening = 0;
    for (let i = 0; i < sessions.length; i++) {
      const s = sessions[i];
      if (s.protocol !== route.protocol) {
        // the pool's member-protocol changed in a reload: the old kind takes no new request
        s.close();
        continue;
      }
      if (s.free > 0) {
        this.#current = s;
        return this.#give(s, stream);
      }
      if (!s.ready && !s.closing) opening++;
    }
    let live = 0;
    for (const s of sessions) if (!s.closing) live++;
    if (live < route.settings.maxConnectionsPerMember || (live === 0 && opening === 0)) {
      const s = new H2MemberSession(this, this.member, route);
      sessions.push(s);
      this.#all.opened++;
      this.#all.counted(1);
      this.#current = s;
      return this.#give(s, stream);
    }
    this.waiting.push(stream);
  }

  #give(s: H2MemberSession, stream: H2MemberStream): void {
    s.take(stream);
  }

  /** A stream that stopped waiting (its exchange gave up). */
  unqueue(stream: H2MemberStream): void {
    const i = this.waiting.indexOf(stream);
    if (i !== -1) this.waiting.splice(i, 1);
  }

  ready(s: H2MemberSession): void {
    this.slotFreed(s);
  }

  slotFreed(s: H2MemberSession): void {
    const waiting = this.waiting;
    while (waiting.length > 0 && s.free > 0) this.#give(s, waiting.shift()!);
    if (s.streams === 0 && s.closing) s.close();
  }

  closing(s: H2MemberSession): void {
    if (s.streams === 0) s.close();
    // those waiting go on another session (a new one if need be)
    this.#replace();
  }

  closed(s: H2MemberSession): void {
    if (this.#current === s) this.#current = null;
    const i = this.sessions.indexOf(s);
    if (i !== -1) {
      this.sessions.splice(i, 1);
      this.#all.counted(-1);
    }
    this.#replace();
    if (this.sessions.length === 0 && this.waiting.length === 0) this.#all.forget(this);
  }

  /** Waiting streams find a place again, now that a session went away. */
  #replace(): void {
    if (this.waiting.length === 0) return;
    for (const stream of this.waiting.splice(0)) stream.requeue();
  }

  /** Idle sessions past their time close. */
  sweep(now: number): void {
    for (const s of this.sessions) s.sweep(now);
  }

  closeAll(): void {
    for (const s of [...this.sessions]) s.close();
  }

  /** The member stopped serving: its sessions take no new stream and close once their streams are done. */
  memberDown(): void {
    this.closeAll();
  }
}

/** Every member's HTTP/2 sessions, for one http service (in one worker thread). */
export class H2MemberSessions {
  /** sessions opened so far (tests read it) */
  opened = 0;
  readonly #byMember = new Map<Member, MemberSessions>();
  #closed = false;
  /** the descriptor budget counts the sessions open (one descriptor each) */
  readonly #resources: ResourceCounts | null;

  constructor(resources: ResourceCounts | null = null) {
    this.#resources = resources;
  }

  /** A session opened (+1) or closed (-1). */
  counted(delta: number): void {
    if (this.#resources !== null) this.#resources.h2MemberSessions += delta;
  }

  /** Places `stream` (a request to `member`) on a session. */
  place(stream: H2MemberStream, member: Member, route: H2Route): void {
    let m = this.#byMember.get(member);
    if (m === undefined) {
      this.#byMember.set(member, (m = new MemberSessions(this, member)));
      member.traffic.add(m);
    }
    m.place(stream, route);
  }

  unqueue(stream: H2MemberStream, member: Member): void {
    this.#byMember.get(member)?.unqueue(stream);
  }

  /** Sessions open now, all members together (tests and counters read it). */
  get sessions(): number {
    let n = 0;
    for (const m of this.#byMember.values()) n += m.sessions.length;
    return n;
  }

  /** Sessions of `member` open now. */
  sessionsOf(member: Member): number {
    return this.#byMember.get(member)?.sessions.length ?? 0;
  }

  sweep(now: number): void {
    for (const m of this.#byMember.values()) m.sweep(now);
  }

  forget(m: MemberSessions): void {
    if (this.#byMember.get(m.member) !== m) return;
    this.#byMember.delete(m.member);
    m.member.traffic.delete(m);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The service stops: sessions close once their streams are done. */
  close(): void {
    this.#closed = true;
    for (const m of this.#byMember.values()) m.closeAll();
  }
}

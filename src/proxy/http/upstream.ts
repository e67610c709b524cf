// One connection to a member, plain or TLS. It outlives the requests it carries: between them
// it waits in its member's idle list. It owns its Stream (the stream engine's for plain
// connections, a tls.TLSSocket's otherwise) and passes each event to the exchange that holds
// the connection now (none while it is idle). Towards an HTTP/2 member it is one request: its
// Stream is a stream on a shared session (h2-member-stream.ts), and it is never kept idle.

import net from 'node:net';
import tls from 'node:tls';
import type { MemberTlsConfig } from '../../config/http-types.ts';
import type { Member } from '../../runtime/member.ts';
import { SocketStream } from '../socket-stream.ts';
import type { Stream, StreamEngine } from '../stream.ts';
import type { H2MemberSessions, H2Route } from './h2-member-sessions.ts';
import { H2MemberStream, type H2MemberStreamOwner } from './h2-member-stream.ts';
import type { ResponseHead } from './response-head.ts';
import type { HttpError } from './responses.ts';

/** What an exchange hears from the member connection it holds. */
export interface UpstreamUser {
  upstreamConnected(up: Upstream): void;
  /** an HTTP/2 member's response head, parsed (or why it cannot be passed on); its body then comes as payload alone */
  upstreamHead(res: ResponseHead | HttpError): void;
  /** an HTTP/2 member's trailers (field lines) of a body without a Content-Length, before upstreamEnd */
  upstreamTrailers(fields: string): void;
  /** `lent`: the chunk is valid only during the call (Stream.lent): what is kept of it must be copied */
  upstreamData(chunk: Buffer, lent: boolean): void;
  upstreamEnd(): void;
  upstreamDrain(): void;
  /** the connection closed; `error` is what broke it, if anything */
  upstreamClosed(up: Upstream, error: Error | null): void;
  /** a throw escaped one of the calls above (a bug): the user's client connection ends */
  upstreamFailed(err: unknown): void;
}

export class Upstream implements H2MemberStreamOwner {
  readonly stream: Stream;
  /** the same stream when it is a request to an HTTP/2 member (it takes the request as a header list); null otherwise */
  readonly h2: H2MemberStream | null = null;
  readonly member: Member;
  /** requests sent on this connection so far (more than one: it was reused) */
  requests = 0;
  connected = false;
  /** who holds it; null while idle */
  user: UpstreamUser | null = null;
  /** while idle: when it is closed if not taken (ms since epoch) */
  idleUntil = 0;
  /** called when the connection closes, so the idle list forgets it */
  onGone: ((up: Upstream) => void) | null = null;
  #error: Error | null = null;

  constructor(member: Member, memberTls: MemberTlsConfig | null, session: TlsSessions | null, engine: StreamEngine, h2: H2Via | null = null) {
    this.member = member;
    if (h2 !== null) {
      const stream = new H2MemberStream(this, member, h2.route, h2.sessions);
      this.stream = stream;
      this.h2 = stream;
      // a stream on a session that is up is connected at once: nothing to wait for, as with a kept connection
      this.connected = stream.connectedAtOnce;
      return;
    }
    if (memberTls === null) {
      // the exchange keeps chunks (a response head read in parts): they must stay its own
      this.stream = engine.connect(member.ip, member.port, this, true);
      return;
    }
    const servername = memberTls.sni ?? (net.isIP(member.host) === 0 ? member.host : undefined);
    // allowHalfOpen is honoured by tls.connect though its typings leave it out.
    const options: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
      host: member.ip,
      port: member.port,
      servername,
      rejectUnauthorized: memberTls.verify,
      ca: memberTls.ca ?? undefined,
      ALPNProtocols: ['http/1.1'],
      session: session?.get(member),
      allowHalfOpen: true,
    };
    const socket = tls.connect(options);
    socket.setNoDelay(true);
    if (session !== null) socket.on('session', (s: Buffer) => session.set(member, s));
    this.stream = new SocketStream(socket, this).connecting('secureConnect');
  }

  /** Usable for another request: open both ways. */
  get reusable(): boolean {
    const s = this.stream;
    return this.connected && !s.closed && !s.writeEnded && !s.readEnded;
  }

  /** The balancer's own address on the member side. */
  get local(): { address: string; port: number } {
    return this.stream.local();
  }

  destroy(): void {
    this.stream.close();
  }

  /** Gives the connection up for `error` (a connect timeout): the user hears it as the reason. */
  fail(error: Error): void {
    this.#error ??= error;
    this.stream.close();
  }

  // Each event goes to the user through one try/catch: a throw that escapes the user's logic
  // closes this connection and ends the user's client connection (#failed), never the process.

  streamConnected(): void {
    this.connected = true;
    this.stream.resume();
    const user = this.user;
    if (user === null) return;
    try {
      user.upstreamConnected(this);
    } catch (err) {
      this.#failed(user, err);
    }
  }

  streamHead(_stream: Stream, res: ResponseHead | HttpError): void {
    const user = this.user;
    if (user === null) return this.stream.close();
    try {
      user.upstreamHead(res);
    } catch (err) {
      this.#failed(user, err);
    }
  }

  streamTrailers(_stream: Stream, fields: string): void {
    const user = this.user;
    if (user === null) return this.stream.close();
    try {
      user.upstreamTrailers(fields);
    } catch (err) {
      this.#failed(user, err);
    }
  }

  streamData(_stream: Stream, chunk: Buffer): boolean {
    const user = this.user;
    if (user === null) {
      this.stream.close(); // an idle member has nothing to say: the connection is out of step
      return true;
    }
    try {
      user.upstreamData(chunk, this.stream.lent === true);
    } catch (err) {
      this.#failed(user, err);
    }
    return true; // an exchange that must wait pauses the stream itself
  }

  streamEnd(): void {
    const user = this.user;
    if (user === null) return this.stream.close();
    try {
      user.upstreamEnd();
    } catch (err) {
      this.#failed(user, err);
    }
  }

  streamDrained(): void {
    const user = this.user;
    if (user === null) return;
    try {
      user.upstreamDrain();
    } catch (err) {
      this.#failed(user, err);
    }
  }

  streamError(_stream: Stream, code: string): void {
    this.#error ??= Object.assign(new Error(code), { code });
  }

  streamClosed(): void {
    this.onGone?.(this);
    const user = this.user;
    this.user = null;
    if (user === null) return;
    try {
      user.upstreamClosed(this, this.#error);
    } catch (err) {
      this.#failed(user, err);
    }
  }

  /** The user's logic threw: this connection is let go (its state is unknown), then the user's client. */
  #failed(user: UpstreamUser, err: unknown): void {
    if (this.user === user) this.user = null;
    this.stream.close();
    user.upstreamFailed(err);
  }
}

/** The way to a pool's HTTP/2 members: its sessions, and how they are reached. */
export interface H2Via {
  sessions: H2MemberSessions;
  route: H2Route;
}

/** TLS sessions of members, so a new connection resumes instead of a full handshake. */
export class TlsSessions {
  readonly #sessions = new WeakMap<Member, Buffer>();

  get(member: Member): Buffer | undefined {
    return this.#sessions.get(member);
  }

  set(member: Member, session: Buffer): void {
    this.#sessions.set(member, session);
  }
}

// One connection to a member, plain or TLS. It outlives the requests it carries: between them
// it waits in its member's idle list. Its socket listeners are attached once and pass each
// event to the exchange that holds the connection now (none while it is idle).

import net from 'node:net';
import tls from 'node:tls';
import type { MemberTlsConfig } from '../../config/http-types.ts';
import type { Member } from '../../runtime/member.ts';

/**
 * Plain member connections read into this one buffer (Node's `onread`): no stream machinery
 * and no 64 KiB allocation per read. Each read is copied out at once (small ones into Node's
 * pooled buffers), so what an exchange keeps or queues for writing is its own.
 */
const SHARED_READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

/** What an exchange hears from the member connection it holds. */
export interface UpstreamUser {
  upstreamConnected(up: Upstream): void;
  upstreamData(chunk: Buffer): void;
  upstreamEnd(): void;
  upstreamDrain(): void;
  /** the socket closed; `error` is what broke it, if anything */
  upstreamClosed(up: Upstream, error: Error | null): void;
}

export class Upstream {
  readonly socket: net.Socket;
  readonly member: Member;
  /** requests sent on this connection so far (more than one: it was reused) */
  requests = 0;
  connected = false;
  /** who holds it; null while idle */
  user: UpstreamUser | null = null;
  /** while idle: when it is closed if not taken (ms since epoch) */
  idleUntil = 0;
  /** called when the socket closes, so the idle list forgets it */
  onGone: ((up: Upstream) => void) | null = null;
  #error: Error | null = null;

  constructor(member: Member, memberTls: MemberTlsConfig | null, session: TlsSessions | null) {
    this.member = member;
    if (memberTls === null) {
      this.socket = net.connect({
        host: member.ip, port: member.port, noDelay: true, allowHalfOpen: true,
        onread: { buffer: SHARED_READ_BUFFER, callback: this.#onRead },
      });
      this.socket.once('connect', this.#onConnect);
    } else {
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
      socket.once('secureConnect', this.#onConnect);
      socket.on('data', this.#onData);
      this.socket = socket;
    }
    this.socket.on('end', this.#onEnd);
    this.socket.on('drain', this.#onDrain);
    this.socket.on('error', this.#onError);
    this.socket.on('close', this.#onClose);
  }

  /** Usable for another request: open both ways, nothing unread. */
  get reusable(): boolean {
    const s = this.socket;
    return this.connected && !s.destroyed && s.writable && !s.readableEnded && s.readableLength === 0;
  }

  /** The balancer's own address on the member side. */
  get local(): { address: string; port: number } {
    return { address: this.socket.localAddress ?? '', port: this.socket.localPort ?? 0 };
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onConnect = (): void => {
    this.connected = true;
    this.user?.upstreamConnected(this);
  };

  #onRead = (length: number, shared: Uint8Array): boolean => {
    const chunk = Buffer.allocUnsafe(length);
    chunk.set(shared.subarray(0, length));
    this.#onData(chunk);
    return true; // an exchange that must wait pauses the socket itself
  };

  #onData = (chunk: Buffer): void => {
    if (this.user !== null) this.user.upstreamData(chunk);
    else this.socket.destroy(); // an idle member has nothing to say: the connection is out of step
  };

  #onEnd = (): void => {
    if (this.user !== null) this.user.upstreamEnd();
    else this.socket.destroy();
  };

  #onDrain = (): void => {
    this.user?.upstreamDrain();
  };

  #onError = (err: Error): void => {
    this.#error = err;
  };

  #onClose = (): void => {
    this.onGone?.(this);
    const user = this.user;
    this.user = null;
    user?.upstreamClosed(this, this.#error);
  };
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

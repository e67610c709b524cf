// One replication link: a TCP (or TLS) connection to a peer, either end. It says hello, proves
// the key both ways (sync-auth.ts), then carries signed frames (sync-frame.ts) until either end
// closes it, it stays silent past its timeout, or the peer breaks a rule — a malformed frame, a
// bad MAC, anything before authentication but the handshake. A peer that fails is dropped and
// reported, never trusted. Every callback catches: nothing escapes into the socket's events.

import type { Socket } from 'node:net';
import { answer, answerHolds, FRAME_MAC_BYTES, frameKey, frameMac, macHolds, nonce, type LinkRole } from './sync-auth.ts';
import { encodeMessage, FrameReader, lengthPrefix, MAX_FRAME, MAX_HANDSHAKE_FRAME, parseMessage, SYNC_VERSION, type SyncMessage } from './sync-frame.ts';

/** a link that has not authenticated by then is dropped */
export const HANDSHAKE_TIMEOUT = 5_000;
/** each end says something at least this often... */
export const HEARTBEAT = 1_000;
/** ...and a link silent for this long is taken as dead */
export const IDLE_TIMEOUT = 5_000;
/** a peer that reads slower than this much backlog is dropped (a full resync follows its return) */
const MAX_BACKLOG = 64 << 20;

export interface LinkOwner {
  /** this node's name, sent in its hello */
  readonly node: string;
  readonly key: Buffer;
  /** whether one of this node's live links sent `nonce` in its hello: a peer that sends it back is reflecting it */
  issued(nonce: Buffer): boolean;
  opened(link: SyncLink): void;
  message(link: SyncLink, m: SyncMessage): void;
  /** the link is closed; `authFailure`: the peer did not prove the key (or broke a rule before doing so) */
  closed(link: SyncLink, reason: string, authFailure: boolean): void;
}

type Phase = 'hello' | 'auth' | 'open' | 'closed';

export class SyncLink {
  readonly role: LinkRole;
  /** "address:port" of the other end */
  readonly remote: string;
  readonly remoteIp: string | undefined;
  /** the peer's name from its hello (its sync address); null until it said hello */
  peerNode: string | null = null;
  readonly #socket: Socket;
  readonly #owner: LinkOwner;
  readonly #reader = new FrameReader();
  readonly #nonce = nonce();
  #peerNonce: Buffer | null = null;
  #phase: Phase = 'hello';
  #sendKey: Buffer | null = null;
  #receiveKey: Buffer | null = null;
  #sendSeq = 0;
  #receiveSeq = 0;
  #heartbeat: NodeJS.Timeout | null = null;
  #handshake: NodeJS.Timeout | null;
  #wroteSinceBeat = false;

  constructor(socket: Socket, role: LinkRole, owner: LinkOwner) {
    this.#socket = socket;
    this.role = role;
    this.#owner = owner;
    this.remoteIp = socket.remoteAddress;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.setTimeout(IDLE_TIMEOUT);
    socket.on('data', this.#onData);
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('closed by the peer'));
    socket.on('timeout', () => this.close(`silent for ${IDLE_TIMEOUT} ms`));
    this.#handshake = setTimeout(() => this.close(`no authentication within ${HANDSHAKE_TIMEOUT} ms`), HANDSHAKE_TIMEOUT);
    this.#write(encodeMessage({ type: 'hello', version: SYNC_VERSION, node: owner.node, nonce: this.#nonce }));
  }

  /** whether this link's hello carried `n` */
  sentNonce(n: Buffer): boolean {
    return this.#nonce.equals(n);
  }

  /** bytes written that the peer has not read yet */
  get backlog(): number {
    return this.#socket.writableLength;
  }

  /** Calls `then` once the peer has read what waits (not if the link closes first). */
  whenDrained(then: () => void): void {
    this.#socket.once('drain', () => {
      try {
        then();
      } catch (err) {
        this.close(`failed after the peer read: ${(err as Error).message}`);
      }
    });
  }

  get open(): boolean {
    return this.#phase === 'open';
  }

  /** Sends one message on an authenticated link; false when it is not open. */
  send(m: SyncMessage): boolean {
    if (this.#phase !== 'open') return false;
    const body = encodeMessage(m);
    const mac = frameMac(this.#sendKey!, this.#sendSeq++, body);
    this.#socket.write(lengthPrefix(body.length + FRAME_MAC_BYTES));
    this.#socket.write(body);
    this.#socket.write(mac);
    this.#wroteSinceBeat = true;
    if (this.#socket.writableLength > MAX_BACKLOG) this.close(`the peer reads too slowly (${this.#socket.writableLength} bytes waiting)`);
    return true;
  }

  close(reason: string): void {
    this.#end(reason, false);
  }

  #end(reason: string, authFailure: boolean): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    if (this.#handshake !== null) clearTimeout(this.#handshake);
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#socket.destroy();
    try {
      this.#owner.closed(this, reason, authFailure);
    } catch {
      // the owner logs its own failures; a link's end must not throw into a socket event
    }
  }

  #write(body: Buffer): void {
    this.#socket.write(lengthPrefix(body.length));
    this.#socket.write(body);
  }

  #onData = (chunk: Buffer): void => {
    try {
      // before authentication only the small handshake frames may come: a stranger cannot make it buffer a megabyte
      const bodies = this.#reader.push(chunk, this.#phase === 'open' ? MAX_FRAME : MAX_HANDSHAKE_FRAME);
      if (typeof bodies === 'string') return this.#reject(bodies);
      for (const body of bodies) {
        if (this.#phase === 'closed') return;
        this.#frame(body);
      }
    } catch (err) {
      this.close(`failed on a frame: ${(err as Error).message}`);
    }
  };

  #reject(reason: string): void {
    this.#end(reason, this.#phase !== 'open');
  }

  #frame(body: Buffer): void {
    if (this.#phase !== 'open') return this.#handshakeFrame(body);
    if (body.length <= FRAME_MAC_BYTES) return this.#reject('a frame too short to carry its MAC');
    const content = body.subarray(0, body.length - FRAME_MAC_BYTES);
    const mac = body.subarray(body.length - FRAME_MAC_BYTES);
    if (!macHolds(this.#receiveKey!, this.#receiveSeq++, content, mac)) return this.#end('a frame whose MAC does not match (forged, replayed or reordered)', true);
    const parsed = parseMessage(content);
    if (!parsed.ok) return this.#reject(`a malformed frame: ${parsed.reason}`);
    const m = parsed.message;
    if (m.type === 'hello' || m.type === 'auth') return this.#reject(`a ${m.type} frame after authentication`);
    if (m.type === 'ping') return;
    this.#owner.message(this, m);
  }

  #handshakeFrame(body: Buffer): void {
    const parsed = parseMessage(body);
    if (!parsed.ok) return this.#end(`a malformed handshake frame: ${parsed.reason}`, true);
    const m = parsed.message;
    if (this.#phase === 'hello') {
      if (m.type !== 'hello') return this.#end(`a ${m.type} frame before its hello`, true);
      if (m.version !== SYNC_VERSION) return this.#end(`speaks version ${m.version} of the link, this node ${SYNC_VERSION}`, true);
      // This node's answer on one link (an HMAC over the nonce it was sent) would otherwise pass for
      // its peer's on another: a stranger who sends a node's own challenge back on a second link
      // could relay the answers between the two and authenticate both without the key.
      if (this.#owner.issued(m.nonce)) return this.#end('a hello with a nonce this node sent: its own challenge reflected back (or ha.sync.peers names this node itself)', true);
      this.peerNode = m.node;
      this.#peerNonce = m.nonce;
      this.#phase = 'auth';
      this.#write(encodeMessage({ type: 'auth', mac: answer(this.#owner.key, this.role, m.nonce, this.#nonce, this.#owner.node) }));
      return;
    }
    if (m.type !== 'auth') return this.#end(`a ${m.type} frame before its authentication`, true);
    const peerRole: LinkRole = this.role === 'connect' ? 'accept' : 'connect';
    const key = this.#owner.key;
    if (!answerHolds(key, peerRole, this.#nonce, this.#peerNonce!, this.peerNode!, m.mac)) return this.#end('the peer does not hold the key (wrong ha.sync.key)', true);
    const [connectNonce, acceptNonce] = this.role === 'connect' ? [this.#nonce, this.#peerNonce!] : [this.#peerNonce!, this.#nonce];
    this.#sendKey = frameKey(key, this.role, connectNonce, acceptNonce);
    this.#receiveKey = frameKey(key, peerRole, connectNonce, acceptNonce);
    this.#phase = 'open';
    clearTimeout(this.#handshake!);
    this.#handshake = null;
    this.#heartbeat = setInterval(this.#beat, HEARTBEAT);
    this.#owner.opened(this);
  }

  #beat = (): void => {
    try {
      if (!this.#wroteSinceBeat) this.send({ type: 'ping' });
      this.#wroteSinceBeat = false;
    } catch (err) {
      this.close(`cannot send: ${(err as Error).message}`);
    }
  };
}

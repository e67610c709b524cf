// tls-session persistence reads the TLS handshake as it passes through a tcp service, without
// decrypting anything: the client's ClientHello says which session it wants to resume (a
// session ID, or a TLS 1.2 session ticket), and the server's ServerHello and NewSessionTicket
// say which session it created. Keys learned from the server are remembered against the member
// that answered, so the resumption lands on the one server that holds the session.
//
// TLS 1.3 leaves nothing to read: its legacy session ID is random (the server only echoes it)
// and its tickets travel encrypted, so a TLS 1.3 handshake is recognized and ignored.
//
// Wire formats: RFC 5246 (records 6.2, handshake 7.4), RFC 5077 (tickets), RFC 8446 4.1.2-4.1.3.

import { createHash } from 'node:crypto';
import type { TlsSessionPersistence } from '../config/persistence-types.ts';
import type { ClientHelloInfo, MethodContext, MethodDescriptor, MethodState, Stickable } from './method.ts';
import { Remembered } from './remembered.ts';

const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
/** TLSPlaintext.length is at most 2^14; 2048 more is allowed for compressed records. */
const MAX_RECORD = 16_384 + 2048;
const CONTENT_CHANGE_CIPHER_SPEC = 20;
const CONTENT_ALERT = 21;
const CONTENT_HANDSHAKE = 22;
const CONTENT_APPLICATION_DATA = 23;

export const HANDSHAKE_CLIENT_HELLO = 1;
export const HANDSHAKE_SERVER_HELLO = 2;
export const HANDSHAKE_NEW_SESSION_TICKET = 4;

const EXT_SESSION_TICKET = 35;
const EXT_SUPPORTED_VERSIONS = 43;
const TLS13 = 0x0304;

export type { ClientHelloInfo };

export interface ServerHelloInfo {
  sessionId: Buffer | null;
  /** the server chose TLS 1.3: its session ID is only the client's random one echoed */
  tls13: boolean;
}

// ---- the record and handshake layers --------------------------------------------------------

export type HandshakeState = 'reading' | 'done' | 'not-tls';

/**
 * Follows the TLS records of one direction of a connection, chunk by chunk, and hands the
 * handshake messages it is interested in to `onMessage` whole. It stops (done) at the first
 * record that is not a handshake record (ChangeCipherSpec: what follows is encrypted) or when
 * `onMessage` returns true; it gives up (not-tls) on anything that is not a plausible TLS record.
 * It copies only the messages it wants, each up to `maxMessage` bytes; a larger one is skipped.
 */
export class HandshakeReader {
  state: HandshakeState = 'reading';
  readonly #wanted: readonly number[];
  readonly #maxMessage: number;
  readonly #onMessage: (type: number, body: Buffer) => boolean;

  // record layer
  readonly #recordHeader = Buffer.alloc(RECORD_HEADER);
  #recordHeaderHave = 0;
  /** payload bytes of the current record still to come */
  #recordLeft = 0;

  // handshake layer (messages may span records, and records hold several messages)
  readonly #messageHeader = Buffer.alloc(HANDSHAKE_HEADER);
  #messageHeaderHave = 0;
  #messageType = 0;
  /** body bytes of the current message still to come */
  #messageLeft = 0;
  /** the body of a wanted message, collected; null while skipping one */
  #body: Buffer | null = null;
  #bodyHave = 0;

  constructor(wanted: readonly number[], maxMessage: number, onMessage: (type: number, body: Buffer) => boolean) {
    this.#wanted = wanted;
    this.#maxMessage = maxMessage;
    this.#onMessage = onMessage;
  }

  /** Reads one chunk of the stream; returns the state after it. */
  push(chunk: Buffer): HandshakeState {
    let at = 0;
    while (this.state === 'reading' && at < chunk.length) {
      if (this.#recordLeft === 0) {
        const take = Math.min(RECORD_HEADER - this.#recordHeaderHave, chunk.length - at);
        chunk.copy(this.#recordHeader, this.#recordHeaderHave, at, at + take);
        this.#recordHeaderHave += take;
        at += take;
        if (this.#recordHeaderHave === RECORD_HEADER) this.#startRecord();
        continue;
      }
      const take = Math.min(this.#recordLeft, chunk.length - at);
      this.#handshakeBytes(chunk, at, at + take);
      this.#recordLeft -= take;
      at += take;
    }
    return this.state;
  }

  #startRecord(): void {
    const h = this.#recordHeader;
    this.#recordHeaderHave = 0;
    const type = h[0];
    const length = h.readUInt16BE(3);
    // Major version 3 (SSL 3.0 to TLS 1.3 all say 3.x on the record layer).
    if (h[1] !== 3 || length === 0 || length > MAX_RECORD) {
      this.state = 'not-tls';
      return;
    }
    if (type === CONTENT_HANDSHAKE) {
      this.#recordLeft = length;
      return;
    }
    if (type === CONTENT_CHANGE_CIPHER_SPEC || type === CONTENT_ALERT || type === CONTENT_APPLICATION_DATA) {
      this.state = 'done';
      return;
    }
    this.state = 'not-tls';
  }

  #handshakeBytes(chunk: Buffer, from: number, to: number): void {
    let at = from;
    while (this.state === 'reading' && at < to) {
      if (this.#messageLeft === 0 && this.#body === null) {
        const take = Math.min(HANDSHAKE_HEADER - this.#messageHeaderHave, to - at);
        chunk.copy(this.#messageHeader, this.#messageHeaderHave, at, at + take);
        this.#messageHeaderHave += take;
        at += take;
        if (this.#messageHeaderHave === HANDSHAKE_HEADER) this.#startMessage();
        continue;
      }
      const take = Math.min(this.#messageLeft, to - at);
      if (this.#body !== null) {
        chunk.copy(this.#body, this.#bodyHave, at, at + take);
        this.#bodyHave += take;
      }
      this.#messageLeft -= take;
      at += take;
      if (this.#messageLeft === 0) this.#endMessage();
    }
  }

  #startMessage(): void {
    const h = this.#messageHeader;
    this.#messageHeaderHave = 0;
    this.#messageType = h[0];
    this.#messageLeft = h.readUIntBE(1, 3);
    const wanted = this.#wanted.includes(this.#messageType) && this.#messageLeft <= this.#maxMessage;
    this.#body = wanted ? Buffer.allocUnsafe(this.#messageLeft) : null;
    this.#bodyHave = 0;
    if (this.#messageLeft === 0) this.#endMessage();
  }

  #endMessage(): void {
    const body = this.#body;
    this.#body = null;
    if (body !== null && this.#onMessage(this.#messageType, body)) this.state = 'done';
  }
}

// ---- the messages -------------------------------------------------------------------------

/** A bounds-checked cursor over one handshake message body. */
class Cursor {
  readonly #b: Buffer;
  at = 0;
  constructor(b: Buffer) {
    this.#b = b;
  }
  get left(): number {
    return this.#b.length - this.at;
  }
  skip(n: number): boolean {
    if (n < 0 || n > this.left) return false;
    this.at += n;
    return true;
  }
  u8(): number {
    return this.left >= 1 ? this.#b[this.at++] : -1;
  }
  u16(): number {
    if (this.left < 2) return -1;
    const v = this.#b.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  bytes(n: number): Buffer | null {
    if (n < 0 || n > this.left) return null;
    const out = this.#b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

/**
 * Calls `each(type, data)` for every extension; false when the list is malformed. The list ends
 * the message: its length must be exactly what is left, and each extension must fit in it.
 */
function readExtensions(c: Cursor, each: (type: number, data: Buffer) => void): boolean {
  if (c.left === 0) return true; // no extensions at all (allowed before TLS 1.3)
  const length = c.u16();
  if (length < 0 || length !== c.left) return false;
  while (c.left > 0) {
    const type = c.u16();
    const data = c.bytes(c.u16());
    if (type < 0 || data === null) return false;
    each(type, data);
  }
  return true;
}

/** The session ID: at most 32 bytes (RFC 5246 7.4.1.2, RFC 8446 4.1.2); empty means none. */
function sessionId(c: Cursor): Buffer | null | undefined {
  const length = c.u8();
  if (length < 0 || length > 32) return undefined;
  const id = c.bytes(length);
  if (id === null) return undefined;
  return id.length === 0 ? null : Buffer.from(id);
}

/** Reads a ClientHello body up to its extensions: its session ID, or undefined when malformed. */
function helloUpToExtensions(c: Cursor): Buffer | null | undefined {
  if (!c.skip(2 + 32)) return undefined; // legacy_version, random
  const id = sessionId(c);
  if (id === undefined) return undefined;
  const suites = c.u16(); // two bytes each, at least one
  if (suites < 2 || suites % 2 !== 0 || !c.skip(suites)) return undefined;
  const compressions = c.u8(); // at least "null"
  if (compressions < 1 || !c.skip(compressions)) return undefined;
  return id;
}

/** The data of the ClientHello body's extension `type` (its first); null when absent or the hello is malformed. */
export function clientHelloExtension(body: Buffer, type: number): Buffer | null {
  const c = new Cursor(body);
  if (helloUpToExtensions(c) === undefined) return null;
  let found: Buffer | null = null;
  const ok = readExtensions(c, (t, data) => {
    if (t === type && found === null) found = data;
  });
  return ok ? found : null;
}

/** The ClientHello body (after the 4-byte handshake header); null when malformed. */
export function parseClientHello(body: Buffer): ClientHelloInfo | null {
  const c = new Cursor(body);
  const id = helloUpToExtensions(c);
  if (id === undefined) return null;
  let ticket: Buffer | null = null;
  let offersTls13 = false;
  let versionsOk = true;
  const ok = readExtensions(c, (type, data) => {
    if (type === EXT_SESSION_TICKET && data.length > 0) ticket = Buffer.from(data);
    if (type === EXT_SUPPORTED_VERSIONS) {
      // a one-byte length, then two bytes per version
      if (data.length < 3 || data[0] !== data.length - 1 || data[0] % 2 !== 0) versionsOk = false;
      else for (let i = 1; i + 1 < data.length; i += 2) if (data.readUInt16BE(i) === TLS13) offersTls13 = true;
    }
  });
  return ok && versionsOk ? { sessionId: id, ticket, offersTls13 } : null;
}

/** The ServerHello body; null when malformed. */
export function parseServerHello(body: Buffer): ServerHelloInfo | null {
  const c = new Cursor(body);
  if (!c.skip(2 + 32)) return null; // legacy_version, random
  const id = sessionId(c);
  if (id === undefined) return null;
  if (!c.skip(2 + 1)) return null; // cipher_suite, legacy_compression_method
  let tls13 = false;
  const ok = readExtensions(c, (type, data) => {
    if (type === EXT_SUPPORTED_VERSIONS && data.length === 2 && data.readUInt16BE(0) === TLS13) tls13 = true;
  });
  return ok ? { sessionId: id, tls13 } : null;
}

/** The ticket of a TLS 1.2 NewSessionTicket body; null when malformed or empty. */
export function parseNewSessionTicket(body: Buffer): Buffer | null {
  const c = new Cursor(body);
  if (!c.skip(4)) return null; // ticket_lifetime_hint
  const ticket = c.bytes(c.u16());
  return ticket === null || ticket.length === 0 || c.left !== 0 ? null : Buffer.from(ticket);
}

// ---- stick-table keys ---------------------------------------------------------------------

/** The key of a session ID: `id:` and its hex (at most 64 digits). */
export function sessionIdKey(id: Buffer): string {
  return `id:${id.toString('hex')}`;
}

/** The key of a session ticket: `ticket:` and 128 bits of its SHA-256 (tickets run to hundreds of bytes). */
export function ticketKey(ticket: Buffer): string {
  return `ticket:${createHash('sha256').update(ticket).digest().toString('hex', 0, 16)}`;
}

// ---- the method -----------------------------------------------------------------------------

/** A stick table of sessions: what members' handshakes name is remembered (not the pool's choice). */
class TlsSessionState<M extends Stickable> extends Remembered<M> implements MethodState<M> {
  /** The session a ClientHello asks to resume: its ticket when the table knows it, else its session ID. */
  helloKey(hello: ClientHelloInfo): string | null {
    const ticket = hello.ticket === null ? null : ticketKey(hello.ticket);
    const id = hello.sessionId === null ? null : sessionIdKey(hello.sessionId);
    if (ticket !== null && (id === null || this.table.peek(ticket) !== undefined)) return ticket;
    return id;
  }
}

export const tlsSessionMethod: MethodDescriptor<TlsSessionPersistence> = {
  name: 'tls-session',
  stateful: true,
  keySource: 'tls-hello',
  remembersChoice: false,
  kernel: null,
  create<M extends Stickable>(config: TlsSessionPersistence, context: MethodContext): MethodState<M> {
    return new TlsSessionState<M>(config, context.now);
  },
};

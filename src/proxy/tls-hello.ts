// tls-session persistence on a tcp service, the socket side. Before a member is chosen, the
// client's first bytes are read until its ClientHello is whole (bounded in bytes and time): it
// says which session the client wants to resume. The bytes read are replayed to the member once
// connected. Then the member's first flight is watched as it streams past (never held back) for
// the session it creates: the session ID of its ServerHello, and a TLS 1.2 NewSessionTicket.

import type net from 'node:net';
import {
  type ClientHelloInfo,
  HANDSHAKE_CLIENT_HELLO,
  HANDSHAKE_NEW_SESSION_TICKET,
  HANDSHAKE_SERVER_HELLO,
  HandshakeReader,
  parseClientHello,
  parseNewSessionTicket,
  parseServerHello,
  sessionIdKey,
  ticketKey,
} from '../persistence/tls-session.ts';
import type { Member } from '../runtime/member.ts';
import type { ServicePersistence } from '../runtime/persistence.ts';

/** The most a client may send before its ClientHello is whole: a full record and its header. */
export const MAX_HELLO_BYTES = 16_384 + 5;
/** Server messages worth copying are small; a ServerHello or ticket larger than this is skipped. */
const MAX_SERVER_MESSAGE = 8192;

/**
 * Reads the client's ClientHello, then pauses the socket and calls `done` with what it offers
 * (null when the bytes are not a TLS ClientHello, too many, or did not come within `timeout`
 * ms) and the bytes read so far (to be written to the member first; null when none). A client
 * that closes meanwhile is left to the connection's own close handler: `done` is not called.
 */
export function readClientHello(
  socket: net.Socket,
  timeout: number,
  done: (hello: ClientHelloInfo | null, head: Buffer | null) => void,
): void {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let hello: ClientHelloInfo | null = null;
  const reader = new HandshakeReader([HANDSHAKE_CLIENT_HELLO], MAX_HELLO_BYTES, (_type, body) => {
    hello = parseClientHello(body);
    return true;
  });

  const finish = (): void => {
    socket.pause();
    socket.off('data', onData);
    socket.off('end', finish);
    socket.off('timeout', finish);
    socket.off('close', onClose);
    socket.setTimeout(0);
    done(hello, bytes === 0 ? null : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes));
  };
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    bytes += chunk.length;
    if (reader.push(chunk) !== 'reading' || bytes >= MAX_HELLO_BYTES) finish();
  };
  const onClose = (): void => {
    socket.off('data', onData);
    socket.off('end', finish);
    socket.off('timeout', finish);
  };
  socket.on('data', onData);
  if (socket.isPaused()) socket.resume(); // a PROXY header read before it left the socket paused
  socket.once('end', finish);
  socket.once('close', onClose);
  socket.setTimeout(timeout);
  socket.once('timeout', finish);
}

/**
 * A reader for the member's side of one connection: each session the member creates (or
 * resumes) is remembered against `member`. TLS 1.3 is recognized in the ServerHello and
 * nothing is learned from it (its session ID is only the client's random one echoed).
 */
export function watchServerHello(persistence: ServicePersistence, member: Member): HandshakeReader {
  return new HandshakeReader([HANDSHAKE_SERVER_HELLO, HANDSHAKE_NEW_SESSION_TICKET], MAX_SERVER_MESSAGE, (type, body) => {
    if (type === HANDSHAKE_SERVER_HELLO) {
      const hello = parseServerHello(body);
      if (hello === null || hello.tls13) return true;
      if (hello.sessionId !== null) persistence.learned(sessionIdKey(hello.sessionId), member);
      return false; // a NewSessionTicket may follow before the ChangeCipherSpec
    }
    const ticket = parseNewSessionTicket(body);
    if (ticket !== null) persistence.learned(ticketKey(ticket), member);
    return true;
  });
}

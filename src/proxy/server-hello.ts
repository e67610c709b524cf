// tls-session persistence on a tcp service, the member's side. (The client's ClientHello is read
// before a member is chosen, by client-head.ts.) The member's first flight is watched as it
// streams past (never held back) for the session it creates: the session ID of its ServerHello,
// and a TLS 1.2 NewSessionTicket.

import {
  HANDSHAKE_NEW_SESSION_TICKET,
  HANDSHAKE_SERVER_HELLO,
  HandshakeReader,
  parseNewSessionTicket,
  parseServerHello,
  sessionIdKey,
  ticketKey,
} from '../persistence/tls-session.ts';
import type { Member } from '../runtime/member.ts';
import type { ServicePersistence } from '../runtime/persistence.ts';

/** Server messages worth copying are small; a ServerHello or ticket larger than this is skipped. */
const MAX_SERVER_MESSAGE = 8192;

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

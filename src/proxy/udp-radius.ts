// `balance-per: radius-request`: what a udp service remembers to balance each RADIUS request on
// its own. A request goes where the dispatcher chooses, except
//   - a retransmit (same client address:port, Identifier and Request Authenticator) goes where
//     its first copy went, so the server's duplicate cache answers it and it is not served twice;
//   - a request carrying a State goes to the member whose Access-Challenge issued that State
//     (multi-round EAP keeps its session on one server).
// A member's datagram reaches the client only when it answers a request that client sent to that
// member (matched by Identifier). Both tables are bounded by the service's max-flows and expire:
// a lost entry costs at worst one request balanced anew (answered by a server that does not know
// its EAP session). Every request awaits a reply (Access-, Accounting-Request and Status-Server
// all get one).
// The Identifier is never rewritten (the Response Authenticator covers it): each (client,
// member) pair has its own upstream socket (a flow), so Identifiers are unique per socket.

import type { Member } from '../runtime/member.ts';
import { MessageVerdicts, type MessageBalancer } from './udp-message-balancer.ts';
import { ExpiringTable } from './udp-table.ts';
import { ACCESS_CHALLENGE, isRadiusRequest, readRadius } from './radius-message.ts';

/** A retransmit comes within this (RFC 5080 2.2.1: clients give up after about 30 s). */
const REQUEST_TTL = 30_000;
/** An EAP session's next round comes within this (FreeRADIUS forgets its EAP sessions after 60 s). */
const STATE_TTL = 60_000;

interface Sent {
  member: Member;
  /** the Request Authenticator, as latin1 text */
  authenticator: string;
}

/** malformed: not a well-formed RADIUS request; unmatched: malformed, or answering no request sent to that member */
export class RadiusRequests extends MessageVerdicts implements MessageBalancer {
  /** requests remembered (client, Identifier) */
  readonly #sent: ExpiringTable<Sent>;
  /** States remembered: EAP sessions in progress */
  readonly #states: ExpiringTable<Member>;

  /** `max`: the most entries of each table (the service's max-flows as it is now) */
  constructor(max: () => number) {
    super();
    this.#sent = new ExpiringTable(REQUEST_TTL, max);
    this.#states = new ExpiringTable(STATE_TTL, max);
  }
  /** of the request pinned() read last, for sent() */
  #key = '';
  #authenticator = '';

  /**
   * Reads a client's datagram: the member it must go to (a retransmit's, a State's issuer),
   * null to balance it anew, or false to drop it (counted). `client` is its address:port.
   */
  pinned(data: Buffer, client: string): Member | null | false {
    const message = readRadius(data);
    if (typeof message === 'string' || !isRadiusRequest(message.code)) {
      this.malformed++;
      this.why = typeof message === 'string' ? message : `code ${message.code} is not a request`;
      return false;
    }
    this.#key = `${client}#${message.identifier}`;
    this.awaits = this.#key;
    this.#authenticator = data.toString('latin1', 4, 20);
    const first = this.#sent.get(this.#key);
    if (first !== undefined && first.authenticator === this.#authenticator) return first.member;
    if (message.stateStart === -1) return null;
    return this.#states.get(data.toString('latin1', message.stateStart, message.stateEnd)) ?? null;
  }

  /** The request pinned() read last went to `member`. */
  sent(member: Member): void {
    this.#sent.set(this.#key, { member, authenticator: this.#authenticator });
  }

  /**
   * True when `data` from `member` answers a request `client` sent to it (an Access-Challenge's
   * State is remembered then); false to drop it (counted).
   */
  answers(data: Buffer, client: string, member: Member): boolean {
    const message = readRadius(data);
    if (typeof message === 'string') {
      this.unmatched++;
      this.why = message;
      return false;
    }
    // kept until it expires: a retransmit of the request after this answer was lost goes to the
    // same member, whose duplicate cache answers it again
    const key = `${client}#${message.identifier}`;
    const sent = this.#sent.get(key);
    if (sent === undefined || sent.member !== member) {
      this.unmatched++;
      this.why = `Identifier ${message.identifier} answers no request of this client sent to this member`;
      return false;
    }
    if (message.code === ACCESS_CHALLENGE && message.stateStart !== -1) {
      this.#states.set(data.toString('latin1', message.stateStart, message.stateEnd), member);
    }
    this.answered = key;
    return true;
  }
}

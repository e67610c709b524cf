// What a udp service that balances single messages rather than flows (`balance-per`) asks of the
// protocol it reads: where a client's datagram must go, and whether a member's datagram may
// reach the client. The listener keeps the I/O: one flow per (client, member) pair.
// Implemented by udp-radius.ts and udp-sip.ts.

import type { Member } from '../runtime/member.ts';

export interface MessageBalancer {
  /** datagrams from clients dropped: not a well-formed message of the protocol */
  malformed: number;
  /** datagrams from members dropped: malformed, or answering nothing the client sent */
  unmatched: number;
  /** the latest reason a datagram was dropped, for the log */
  why: string;
  /**
   * Set by pinned(): the key of the reply the datagram awaits (a request that gets one, by its
   * client), '' when it awaits none (a SIP ACK or response). udp-pending.ts holds it until then.
   */
  awaits: string;
  /** Set by answers(): the key of the request the member's datagram answers ('' when none). */
  answered: string;
  /**
   * Reads a client's datagram (`client` is its address:port): the member it must go to, null to
   * balance it anew, or false to drop it (counted).
   */
  pinned(data: Buffer, client: string): Member | null | false;
  /** The datagram pinned() read last went to `member`. */
  sent(member: Member): void;
  /** True when `data` from `member` may go to `client`; false to drop it (counted). */
  answers(data: Buffer, client: string, member: Member): boolean;
}

/** The counters and verdicts every MessageBalancer keeps, declared once (RADIUS and SIP extend it). */
export abstract class MessageVerdicts {
  malformed = 0;
  unmatched = 0;
  why = '';
  awaits = '';
  answered = '';
}

// `balance-per: sip-dialog`: every message with one Call-ID goes to one member, so a call's
// INVITE, ACK, re-INVITEs and BYE (and the client's answers to the member's requests) reach the
// server that holds its dialog; a new Call-ID is balanced anew. The Call-ID → member table is
// bounded by the service's max-flows and forgets a dialog idle for an hour: a message of a forgotten dialog is balanced anew
// (a request the new server does not know is answered 481 by it). A member's datagram reaches the
// client when it is a well-formed SIP message; one with a Call-ID new to the table (a request the
// server starts) pins that Call-ID to the member, so the client's answers go back to it.
// A client's request other than ACK awaits a reply: any message of its Call-ID from the member.

import type { Member } from '../runtime/member.ts';
import { readSip } from './sip-message.ts';
import { MessageVerdicts, type MessageBalancer } from './udp-message-balancer.ts';
import { ExpiringTable } from './udp-table.ts';

/** A dialog with no message for this long is forgotten (its next message is balanced anew). */
const DIALOG_TTL = 3_600_000;

export class SipDialogs extends MessageVerdicts implements MessageBalancer {
  readonly #dialogs: ExpiringTable<Member>;

  /** `max`: the most dialogs remembered (the service's max-flows as it is now) */
  constructor(max: () => number) {
    super();
    this.#dialogs = new ExpiringTable(DIALOG_TTL, max, true);
  }

  /** the Call-ID of the message pinned() read last, for sent() */
  #callId = '';

  pinned(data: Buffer, client: string): Member | null | false {
    const message = readSip(data);
    if (typeof message === 'string') {
      this.malformed++;
      this.why = message;
      return false;
    }
    this.#callId = data.toString('latin1', message.callIdStart, message.callIdEnd);
    this.awaits = message.request && !message.ack ? `${client}#${this.#callId}` : '';
    const member = this.#dialogs.get(this.#callId);
    if (member !== undefined) return member;
    if (!message.request) {
      this.malformed++;
      this.why = 'a response in no dialog known';
      return false;
    }
    return null;
  }

  sent(member: Member): void {
    this.#dialogs.set(this.#callId, member);
  }

  answers(data: Buffer, client: string, member: Member): boolean {
    const message = readSip(data);
    if (typeof message === 'string') {
      this.unmatched++;
      this.why = message;
      return false;
    }
    const callId = data.toString('latin1', message.callIdStart, message.callIdEnd);
    if (this.#dialogs.get(callId) === undefined) this.#dialogs.set(callId, member);
    this.answered = `${client}#${callId}`;
    return true;
  }
}

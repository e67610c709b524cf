// The requests of a udp service that balances single messages (balance-per radius-request or
// sip-dialog) that await their member's reply. Each holds its member's place — what
// least-connections counts, so requests spread by how many each member has in progress — until
// the member replies (a success for passive health: the listener says so) or the wait is over: a
// failure for passive health ('no-reply') when the member answered no one meanwhile, its place
// given back either way. Bounded by max-flows:
// when full, the oldest gives way uncounted. Sent in order and all waiting as long, so the oldest
// is first: the sweep reads only what has expired.

import type { Dispatcher } from '../runtime/dispatch.ts';
import type { Member } from '../runtime/member.ts';

/** What a request went through: the flow (client, member), whose socket alone can get its reply. */
export interface ReplyPath {
  readonly closed: boolean;
}

interface Pending {
  member: Member;
  path: ReplyPath;
  /** the rule it was chosen under, and its client's persistence key: its place is given back by them */
  dispatcher: Dispatcher;
  clientKey: string | null;
  sentAt: number;
}

export class PendingReplies {
  /** requests whose wait ran out */
  unanswered = 0;
  readonly #pending = new Map<string, Pending>();

  get size(): number {
    return this.#pending.size;
  }

  /**
   * The request `key` went to `member`, which counted it as active: it keeps that place until
   * answered or expired. False when the key awaits a reply already (a retransmit): the caller
   * gives the place back.
   */
  add(key: string, member: Member, path: ReplyPath, dispatcher: Dispatcher, clientKey: string | null, now: number, max: number): boolean {
    const pending = this.#pending;
    if (pending.has(key)) return false;
    while (pending.size >= max) {
      const oldest = pending.entries().next().value;
      if (oldest === undefined) break;
      pending.delete(oldest[0]);
      release(oldest[1]);
    }
    pending.set(key, { member, path, dispatcher, clientKey, sentAt: now });
    return true;
  }

  /** `member` answered the request `key`: its place is given back. */
  answered(key: string, member: Member): void {
    const p = this.#pending.get(key);
    if (p === undefined || p.member !== member) return;
    this.#pending.delete(key);
    release(p);
  }

  /**
   * Requests sent at or before `before` had no reply: each a failure of its member, unless the
   * member answered someone after it was sent — then the request, not the member, was at fault
   * (FreeRADIUS drops a wrong secret or an unknown client silently), and a hostile client must
   * not get a serving member ejected by sending what it ignores — or unless its flow closed
   * meanwhile (evicted by a flood of new clients, its member stopped serving): the reply had no
   * way back.
   */
  expire(before: number): void {
    for (const [key, p] of this.#pending) {
      if (p.sentAt > before) return;
      this.#pending.delete(key);
      this.unanswered++;
      release(p);
      if (!p.path.closed && p.member.passive.answeredAt < p.sentAt) p.member.passive.failure('no-reply');
    }
  }

  /** The listener closes: every place is given back, nothing counted. */
  clear(): void {
    for (const p of this.#pending.values()) release(p);
    this.#pending.clear();
  }
}

function release(p: Pending): void {
  p.dispatcher.release(p.member, p.clientKey, 0, 0);
}

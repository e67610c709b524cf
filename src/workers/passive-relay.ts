// Passive health with worker threads, the worker's side: a worker does not decide. Each member's
// PassiveHealth is replaced by a RelayedPassive that reports the member's failures of real
// traffic to the main thread, whose PassiveHealth decides (threshold, ejection and its growing
// time, max-ejected-percent) as it does for the one loop; the ejection comes back to every worker
// in the member's state (MemberMirror: `ejected`), and RelayedPassive.follow() applies it.
//
// Cheap: a failure is reported each time; a success only when it can end a run of failures —
// this worker reported a failure since its last reported success, or the main thread has a run
// open (`open`, one byte per member slot in shared memory: written by the main thread as it
// counts any failure or success, a worker's or its own (udp, nat), and set by a worker as it
// reports a failure). A healthy member costs two reads per success and no message. Reports are
// batched: one message per turn of the worker's loop.
//
// "Consecutive" is in the order the main thread counts the reports: a worker's reports keep
// their order (one port, batches in order); between workers, in the order their batches arrive.
// A success on any worker ends the run once the main thread (or the worker itself) has marked it
// open; a success in the instant between another worker's failure and that failure's mark is
// not reported (the run may then count one failure more than one loop would have).

import type { Member } from '../runtime/member.ts';
import { PassiveHealth, type PassiveFailure, type PassiveGroup } from '../runtime/passive-health.ts';
import type { Pool } from '../runtime/pool.ts';

/** A report's code: 0 is a success, the others a failure of that kind. */
export const SUCCESS = 0;
const CODES: Readonly<Record<PassiveFailure, number>> = {
  'connect': 1, 'connect-timeout': 2, 'reset': 3, 'http-5xx': 4, 'response-timeout': 5, 'unreachable': 6, 'no-reply': 7,
};
/** The failure of each code (index = code). */
export const KINDS: readonly (PassiveFailure | undefined)[] = (() => {
  const kinds: (PassiveFailure | undefined)[] = [undefined];
  for (const [kind, code] of Object.entries(CODES) as [PassiveFailure, number][]) kinds[code] = kind;
  return kinds;
})();

/** One worker's reporter: collects the reports of a loop turn and sends them as one batch. */
export class PassiveRelay {
  /** per member slot: a run of failures may be open in the main thread (shared with it) */
  readonly open: Uint8Array;
  readonly #send: (reports: number[]) => void;
  /** [slot, code, slot, code, ...] of this turn */
  #reports: number[] = [];
  #scheduled = false;

  /** `open`: the main thread's buffer (PassiveIntake.buffer); `send`: posts a batch to the main thread. */
  constructor(open: SharedArrayBuffer, send: (reports: number[]) => void) {
    this.open = new Uint8Array(open);
    this.#send = send;
  }

  /** Gives `member` (of `pool`, on counter slot `slot`) a RelayedPassive, once: a reload keeps it. */
  attach(member: Member, pool: Pool, slot: number): void {
    if (member.passive instanceof RelayedPassive && member.passive.slot === slot) return;
    member.passive = new RelayedPassive(member, pool.passive, this, slot);
  }

  report(slot: number, code: number): void {
    this.#reports.push(slot, code);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const reports = this.#reports;
    this.#reports = [];
    this.#send(reports);
  };
}

/** A worker's member's passive health: reports, and follows the main thread's decision. */
export class RelayedPassive extends PassiveHealth {
  readonly slot: number;
  readonly #member: Member;
  readonly #group: PassiveGroup;
  readonly #relay: PassiveRelay;
  readonly #open: Uint8Array;
  /** this worker reported a failure since its last reported success */
  #reported = false;
  /** the member left this worker's pool: its traffic still in progress no longer counts */
  #gone = false;

  constructor(member: Member, group: PassiveGroup, relay: PassiveRelay, slot: number) {
    super(member, group);
    this.#member = member;
    this.#group = group;
    this.#relay = relay;
    this.#open = relay.open;
    this.slot = slot;
  }

  override failure(kind: PassiveFailure): void {
    if (this.#group.config.failures === 0 || this.ejected || this.#gone) return;
    this.#reported = true;
    this.#open[this.slot] = 1;
    this.#relay.report(this.slot, CODES[kind]);
  }

  override success(): void {
    if (!this.#reported && this.#open[this.slot] === 0) return;
    this.#reported = false;
    // the main thread writes it again once it has counted this: other workers need not report too
    this.#open[this.slot] = 0;
    if (!this.#gone) this.#relay.report(this.slot, SUCCESS);
  }

  override dispose(): void {
    this.#gone = true;
    // never counted in this worker's group: the main thread's is the one that counts
    this.ejected = false;
    super.dispose();
  }

  /**
   * The main thread's decision, from the member's mirrored state (MemberMirror's ejection
   * fields): told as the one loop tells it.
   */
  follow(state: { ejected: boolean; ejectedUntil: number; ejectionReason: string }): void {
    this.ejectedUntil = state.ejectedUntil;
    if (this.ejected === state.ejected || this.#gone) return;
    this.ejected = state.ejected;
    this.reason = state.ejectionReason;
    if (state.ejected) this.ejections++;
    else this.#reported = false;
    this.#member.passiveChanged(state.ejected, state.ejected ? state.ejectionReason : 'ejection time over');
  }
}

// Passive health with worker threads, the main thread's side: the workers' reports of their
// members' failures and successes (passive-relay.ts) are counted by the main thread's own
// PassiveHealth of each member, which decides as it does for the one loop. Its ejection is a
// member change: WorkerThreads sends it to every worker with the member's state.
//
// The main thread's PassiveHealth of each member becomes a CountedPassive: it also keeps the
// member's byte of `open` (a run of failures is being counted), whether the failure came from a
// worker or from the main thread's own traffic (udp services, nat's conntrack), so that a
// worker reports the success that ends any run.

import type { Member } from '../runtime/member.ts';
import { PassiveHealth, type PassiveFailure, type PassiveGroup } from '../runtime/passive-health.ts';
import type { Pool } from '../runtime/pool.ts';
import { MAX_SLOTS } from '../runtime/shared-counters.ts';
import { KINDS, SUCCESS } from './passive-relay.ts';

export class PassiveIntake {
  /** per member slot, 1 while the main thread counts a run of failures: read by the workers */
  readonly buffer = new SharedArrayBuffer(MAX_SLOTS);
  readonly #open = new Uint8Array(this.buffer);
  /** the members of the running config, by counter slot */
  readonly #members = new Map<number, Member>();

  /**
   * What a new config changed, from WorkerThreads.assignSlots: the slots of the members of pools
   * it changed or removed (`gone`), then the members of the pools it changed or added, their
   * pools and slots (a member that stays is in both). Call it before the workers run the config.
   * A member new to this thread gets its CountedPassive here.
   */
  place(gone: Iterable<number>, members: Iterable<[Member, Pool, number]>): void {
    for (const slot of gone) this.#members.delete(slot);
    for (const [member, pool, slot] of members) {
      this.#members.set(slot, member);
      if (member.passive instanceof CountedPassive && member.passive.slot === slot) continue;
      member.passive = new CountedPassive(member, pool.passive, this.#open, slot);
    }
  }

  /**
   * Counts one worker's batch, in its order: [slot, code, slot, code, ...]. A report of a member
   * a reload removed (in flight meanwhile), or that is not a pair of known numbers, is skipped.
   */
  take(reports: readonly number[]): void {
    for (let i = 0; i + 1 < reports.length; i += 2) {
      const member = this.#members.get(reports[i]);
      if (member === undefined) continue;
      const code = reports[i + 1];
      if (code === SUCCESS) {
        member.passive.success();
        continue;
      }
      const kind = KINDS[code];
      if (kind !== undefined) member.passive.failure(kind);
    }
  }
}

/** A main-thread member's passive health with workers: decides as ever, and keeps `open` in step. */
export class CountedPassive extends PassiveHealth {
  readonly slot: number;
  readonly #open: Uint8Array;

  constructor(member: Member, group: PassiveGroup, open: Uint8Array, slot: number) {
    super(member, group);
    this.#open = open;
    this.slot = slot;
  }

  override failure(kind: PassiveFailure): void {
    super.failure(kind);
    this.#open[this.slot] = this.failures > 0 ? 1 : 0;
  }

  override success(): void {
    super.success();
    this.#open[this.slot] = 0;
  }
}

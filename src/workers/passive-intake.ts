// Passive health with worker threads, the main thread's side: the workers' reports of their
// members' failures and successes (passive-relay.ts) are counted by the main thread's own
// PassiveHealth of each member, which decides as it does for the one loop. Its ejection is a
// member change: WorkerThreads sends it to every worker with the member's state.

import type { Member } from '../runtime/member.ts';
import { MAX_SLOTS } from '../runtime/shared-counters.ts';
import { KINDS, SUCCESS } from './passive-relay.ts';

export class PassiveIntake {
  /** per member slot, 1 while the main thread counts a run of failures: read by the workers */
  readonly buffer = new SharedArrayBuffer(MAX_SLOTS);
  readonly #open = new Uint8Array(this.buffer);
  /** the members of the running config, by counter slot */
  readonly #members = new Map<number, Member>();

  /** The members of a new config and their slots (WorkerThreads.assignSlots): call it before the workers run it. */
  place(members: Iterable<[Member, number]>): void {
    this.#members.clear();
    for (const [member, slot] of members) this.#members.set(slot, member);
  }

  /**
   * Counts one worker's batch, in its order: [slot, code, slot, code, ...]. A report of a member
   * a reload removed (in flight meanwhile), or that is not a pair of known numbers, is skipped.
   */
  take(reports: readonly number[]): void {
    for (let i = 0; i + 1 < reports.length; i += 2) {
      const slot = reports[i];
      const code = reports[i + 1];
      const member = this.#members.get(slot);
      if (member === undefined) continue;
      if (code === SUCCESS) member.passive.success();
      else {
        const kind = KINDS[code];
        if (kind === undefined) continue;
        member.passive.failure(kind);
      }
      this.#open[slot] = member.passive.failures > 0 ? 1 : 0;
    }
  }
}

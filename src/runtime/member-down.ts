// What happens to live traffic when its member stops serving (a pool's `on-member-down`): every
// connection, request or flow on a member is in the member's `traffic` list while its policy asks
// to hear of it, so a member that stops serving reaches only its own traffic: O(affected), not a
// scan of the connection table per event.
//
// "Stops serving" is Member.servesExisting being false at a member event (health down, admin
// disabled, agent down or maint), or the member leaving its pool in a reload (runtime.ts calls
// memberStopped for both). A new reason to stop serving (passive health's ejection) hooks in by
// making servesExisting false and emitting a 'member' event. Draining keeps servesExisting true:
// it moves nothing.

import type { Mode, OnMemberDown } from '../config/types.ts';
import type { Member } from './member.ts';

export type { MemberTraffic } from './member.ts';

/** The policy a service applies: the pool's word, else the default of the service's mode. */
export function onMemberDownFor(mode: Mode, configured: OnMemberDown | null): OnMemberDown {
  if (configured !== null) return configured;
  return mode === 'udp' || mode === 'http' ? 'reselect' : 'keep';
}

/**
 * Tells each of the member's traffic that it stopped serving. Each one takes itself out of the
 * list as it ends (hence the copy); a throw from one (a bug) must not spare the others nor reach
 * the caller (a monitor's or the admin API's callback): it leaves the list and the next goes on.
 * Returns how many threw (the runtime counts them as connections failed).
 */
export function memberStopped(member: Member): number {
  if (member.traffic.size === 0) return 0;
  let failed = 0;
  for (const t of member.traffic.toArray()) {
    try {
      t.memberDown(member);
    } catch {
      failed++;
      member.traffic.delete(t);
    }
  }
  return failed;
}

// Bytes per member including the connections still open: a member's own counters only grow
// when a connection ends, so a long download would otherwise show nothing until it is over.

import type { Member } from '../runtime/member.ts';
import type { Runtime } from '../runtime/runtime.ts';

export interface Bytes {
  in: number;
  out: number;
}

export interface LiveTraffic {
  /** bytes moved by the live connections, by member */
  bytes: Map<Member, Bytes>;
  /** live connections by service */
  services: Map<string, number>;
}

/** One pass over the connection table. */
export function liveTraffic(runtime: Runtime): LiveTraffic {
  const live = new Map<Member, Bytes>();
  const services = new Map<string, number>();
  for (const entry of runtime.connections.list()) {
    services.set(entry.service, (services.get(entry.service) ?? 0) + 1);
    if (entry.member === null) continue;
    const b = live.get(entry.member);
    if (b === undefined) live.set(entry.member, { in: entry.bytesIn, out: entry.bytesOut });
    else {
      b.in += entry.bytesIn;
      b.out += entry.bytesOut;
    }
  }
  return { bytes: live, services };
}

/** Every byte a member has moved: those of ended connections plus those of live ones. */
export function memberBytes(member: Member, live: ReadonlyMap<Member, Bytes>): Bytes {
  const b = live.get(member);
  return { in: member.bytesIn + (b?.in ?? 0), out: member.bytesOut + (b?.out ?? 0) };
}

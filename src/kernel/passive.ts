// Passive health on the nat path: the kernel forwards the connections, but conntrack sees both
// directions, so a member that refuses or does not answer shows in its entries. Each count of
// limits.ts (one conntrack listing a second) hands every tcp line of a watched service here, and
// each connection is judged once, by conntrack's id:
//
//   SYN_SENT, [UNREPLIED], first seen CONNECT_TIMEOUT  no answer to the SYN: `connect-timeout`
//     ago or more
//   any other state but SYN_SENT and CLOSE             the member answered: a success
//
// A SYN the member answers with a reset leaves no entry to list: conntrack destroys it at once.
// Its DESTROY event (conntrack -E, conntrack-events.ts), `CLOSE [UNREPLIED]`, is a `connect`
// failure, told at the end of the next listing — and only when that listing shows no success of
// the member: the event cannot say who reset, and a client that resets its own SYN before the
// member's SYN-ACK (a forged packet pair) leaves the same event; a member that accepts others
// refuses no one. Within one count, a member's successes are told before its failures (a listing
// has no order in time). udp: an ICMP destination unreachable about a
// connection sets a bit of its mark (render.ts ICMP_ERROR_MARK), so a listed udp connection
// with it and no reply is a `connect` failure, one with a reply a success, one without either
// nothing yet (a datagram may want no answer). Not judged: resets after the handshake (without
// per-packet accounting they look like any close), and dsr, where the balancer never sees a
// reply. The verdicts feed the member's PassiveHealth, as user-space failures do.

import type { Logger } from '../log.ts';
import type { Member } from '../runtime/member.ts';
import type { Service } from '../runtime/service.ts';
import type { ConntrackLine } from './conntrack.ts';
import { ConntrackEvents } from './conntrack-events.ts';
import { ICMP_ERROR_MARK } from './render.ts';
import type { KernelServiceView } from './view.ts';

/** ms a SYN may wait for its answer before the connection counts as a connect timeout. */
export const CONNECT_TIMEOUT = 3_000;

interface Seen {
  /** ms since epoch when a listing first showed it */
  first: number;
  /** judged already: never again */
  judged: boolean;
}

interface Tally {
  successes: number;
  timedOut: number;
  /** udp: an ICMP error came back */
  refused: number;
}

export class KernelPassive {
  /** the connections of the last listing, by conntrack id */
  #seen = new Map<number, Seen>();
  #next = new Map<number, Seen>();
  #tallies = new Map<Member, Tally>();
  /** connections destroyed unreplied by a reset since the last listing ended, by member (bounded by the members) */
  #resets = new Map<Member, number>();
  #now = 0;
  readonly #events: ConntrackEvents;
  /** `VIP port member-ip member-port` -> member, of the watched services */
  #targets = new Map<string, Member>();

  constructor(log: Logger) {
    this.#events = new ConntrackEvents(log, this.#destroyed);
  }

  /**
   * The watched services now (`conntrack`: the tool, null without it): their members are looked
   * up for events, which are listened to while there is any.
   */
  watch(conntrack: string | null, services: readonly [KernelServiceView, Service][]): void {
    const targets = new Map<string, Member>();
    const views: KernelServiceView[] = [];
    for (const [view, service] of services) {
      if (!KernelPassive.watches(view, service)) continue;
      if (view.protocol === 'tcp') views.push(view);
      for (const m of view.members) {
        const member = service.pool.members.find((x) => x.id === m.id);
        if (member !== undefined) targets.set(`${view.vip} ${view.port} ${m.ip} ${m.port}`, member);
      }
    }
    this.#targets = targets;
    // only tcp needs events; udp's ICMP errors mark entries the listing shows
    if (conntrack === null || views.length === 0) return this.#events.stop();
    // what reaches us is only tcp destroyed in CLOSE (not the TIME_WAIT of every normal close:
    // the tool drops those, at about 6 us of its CPU each) and, when all share one, of the VIP's
    // family and address
    const args = ['-E', '-e', 'DESTROY', '-p', 'tcp', '--state', 'CLOSE'];
    if (views.every((v) => v.family === views[0].family)) args.push('-f', views[0].family === 'ip' ? 'ipv4' : 'ipv6');
    if (views.every((v) => v.vip === views[0].vip)) args.push('--orig-dst', views[0].vip);
    this.#events.listen(conntrack, args);
  }

  /** No more events. */
  stop(): void {
    this.#events.stop();
    this.#resets.clear();
  }

  /** A connection conntrack forgot: one destroyed while unreplied in CLOSE was reset, by its member or its client. */
  #destroyed = (line: Readonly<ConntrackLine>): void => {
    if (line.protocol !== 'tcp' || line.state !== 'CLOSE' || !line.unreplied) return;
    const o = line.original;
    const r = line.reply;
    const member = this.#targets.get(`${o.dst} ${o.dport} ${r.src} ${r.sport}`);
    if (member !== undefined) this.#resets.set(member, (this.#resets.get(member) ?? 0) + 1);
  };

  /** Whether a service's connections are judged: a nat service whose pool has passive health on. */
  static watches(view: KernelServiceView, service: Service): boolean {
    return view.mode === 'nat' && view.accepting && service.pool.passive.config.failures > 0;
  }

  /** A listing begins. */
  begin(now: number): void {
    this.#now = now;
    this.#next = new Map();
    this.#tallies.clear();
  }

  /** One tcp line of a watched service, translated to `member`. */
  see(line: Readonly<ConntrackLine>, member: Member): void {
    if (line.id === 0) return;
    const before = this.#seen.get(line.id);
    const seen: Seen = before ?? { first: this.#now, judged: false };
    this.#next.set(line.id, seen);
    if (seen.judged) return;
    const state = line.state;
    let verdict: keyof Tally | null;
    if (line.protocol === 'udp') {
      // unreplied is no failure by itself (a datagram may want no answer), an ICMP error is
      verdict = !line.unreplied ? 'successes' : (line.mark & ICMP_ERROR_MARK) !== 0 ? 'refused' : null;
    } else if (state === 'CLOSE') verdict = null;
    else if (state === 'SYN_SENT') verdict = line.unreplied && this.#now - seen.first >= CONNECT_TIMEOUT ? 'timedOut' : null;
    else verdict = 'successes';
    // a closed one says nothing more (a reset to the SYN is an event, above); a SYN still
    // waiting is looked at again next time
    if (verdict === null) {
      if (state === 'CLOSE') seen.judged = true;
      return;
    }
    seen.judged = true;
    let tally = this.#tallies.get(member);
    if (tally === undefined) this.#tallies.set(member, (tally = { successes: 0, timedOut: 0, refused: 0 }));
    tally[verdict]++;
  }

  /** The listing is over: each member hears its verdicts; connections gone from it are forgotten. */
  end(): void {
    this.#seen = this.#next;
    for (const [member, t] of this.#tallies) {
      if (t.successes > 0) {
        member.passive.success();
        // it answered others meanwhile: the resets were its clients' own
        this.#resets.delete(member);
      }
      for (let i = 0; i < t.refused; i++) member.passive.failure('connect');
      for (let i = 0; i < t.timedOut; i++) member.passive.failure('connect-timeout');
    }
    for (const [member, n] of this.#resets) for (let i = 0; i < n; i++) member.passive.failure('connect');
    this.#resets.clear();
    this.#tallies.clear();
  }

  /** A listing failed: what was seen before stays for the next one. */
  abandon(): void {
    this.#next = new Map();
    this.#tallies.clear();
  }
}

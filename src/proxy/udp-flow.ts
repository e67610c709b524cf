// One client of a udp service, as a flow: every datagram from the client's address:port goes to
// one member through one upstream socket of its own, and the member's replies go back to the
// client from the service's address. The flow is also its connection table entry.
// When its member stops serving (on-member-down: reselect or close) the flow closes: the client's
// next datagram opens a new flow on a member chosen anew, and source-ip persistence re-pins it.
// Passive health: an ICMP port or host unreachable from the member (an error on the connected
// socket) is a failure of the member; its replies are successes (the listener counts those).

import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { ConnectionEntry, Endpoint } from '../runtime/connection-table.ts';
import type { Dispatcher } from '../runtime/dispatch.ts';
import type { Member } from '../runtime/member.ts';
import type { MemberTraffic } from '../runtime/member-down.ts';
import type { TrafficList } from '../runtime/member-traffic.ts';
import type { Termination } from './connection-log.ts';

/** What a flow tells its listener. */
export interface FlowOwner {
  /** a datagram from the member, for the client */
  reply(data: Buffer, flow: UdpFlow): void;
  /** the flow closed: it leaves the flow table */
  flowClosed(flow: UdpFlow): void;
  /** the flow's socket could not be opened (out of descriptors, most often): the flow closes */
  socketFailed(flow: UdpFlow, err: Error): void;
  /** a throw escaped the handling of the member's datagram (a bug): the flow is closed */
  flowFailed(flow: UdpFlow, err: unknown): void;
}

/** Errors that say the member's side refused or could not be reached (ICMP): the member's failure. */
const MEMBER_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);
/** The most datagrams a flow holds while its socket connects (a turn of the event loop); more are dropped, as a full socket buffer would. */
const MAX_EARLY = 64;

export class UdpFlow implements ConnectionEntry, MemberTraffic {
  readonly id: number;
  readonly protocol = 'udp' as const;
  readonly service: string;
  readonly client: Endpoint;
  readonly vip: Endpoint;
  readonly startedAt = Date.now();
  readonly member: Member;
  /** its place in its member's traffic list (member-traffic.ts) */
  trafficPrev: MemberTraffic | null = null;
  trafficNext: MemberTraffic | null = null;
  trafficList: TrafficList<MemberTraffic> | null = null;
  local: Endpoint | null = null;
  bytesIn = 0;
  bytesOut = 0;
  /** ms timestamp of the last datagram either way; the listener's sweep expires idle flows */
  lastSeen = this.startedAt;
  /** when the listener last moved this flow to the recent end of its table (for eviction) */
  touched = this.startedAt;
  /** why it ended (for the connection log); set by close() */
  termination: Termination = 'idle-timeout';

  /** the rule the flow started under, and its client's persistence key: its end is recorded by them */
  readonly #dispatcher: Dispatcher;
  readonly #key: string | null;
  /**
   * It holds a place of its member (counted in member.active) from the choice that opened it.
   * Not with balance-per: there each request holds one while it awaits its reply (udp-pending.ts).
   */
  readonly #holdsPlace: boolean;
  readonly #upstream: dgram.Socket;
  readonly #owner: FlowOwner;
  #closed = false;
  /** datagrams from the client before the socket is connected; null once it is */
  #early: Buffer[] | null = [];

  constructor(id: number, service: string, client: Endpoint, vip: Endpoint, member: Member, dispatcher: Dispatcher, key: string | null, owner: FlowOwner, holdsPlace = true) {
    this.id = id;
    this.service = service;
    this.client = client;
    this.vip = vip;
    this.member = member;
    this.#dispatcher = dispatcher;
    this.#key = key;
    this.#owner = owner;
    this.#holdsPlace = holdsPlace;
    if (dispatcher.onMemberDown !== 'keep') member.traffic.add(this);
    const upstream = dgram.createSocket(isIPv6(member.ip) ? 'udp6' : 'udp4');
    this.#upstream = upstream;
    upstream.on('error', this.#onError);
    upstream.on('message', (data, from) => {
      // Only the member may answer through this flow.
      if (from.port !== member.port || from.address !== member.ip) return;
      this.bytesOut += data.length;
      this.lastSeen = Date.now();
      try {
        owner.reply(data, this);
      } catch (err) {
        owner.flowFailed(this, err);
      }
    });
    // Connected to its member: the kernel picks the source address by route now, so the flow
    // shows the real local address (not 0.0.0.0), and an ICMP refusal from the member comes back
    // as an error (ECONNREFUSED below). node drops what is sent while it connects: held here.
    upstream.connect(member.port, member.ip, (err?: Error) => {
      if (err != null) return this.#onError(err);
      const a = upstream.address();
      this.local = { address: a.address, port: a.port };
      const early = this.#early;
      this.#early = null;
      if (!this.#closed && early !== null) for (const data of early) upstream.send(data);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(data: Buffer, now: number): void {
    this.bytesIn += data.length;
    this.lastSeen = now;
    if (this.#closed) return;
    if (this.#early === null) this.#upstream.send(data);
    else if (this.#early.length < MAX_EARLY) this.#early.push(data);
  }

  abort(): void {
    this.close('terminated');
  }

  /** An operator ends it: forgotten, its socket closed; the client's next datagram starts a new flow. */
  terminate(): void {
    this.close('terminated');
  }

  /** Its member stopped serving: the flow ends, and the client's next datagram starts one anew. */
  memberDown(): void {
    this.close('terminated');
  }

  /** `why`: for the connection log (the listener's sweep closes idle flows). */
  close(why: Termination = 'idle-timeout'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.termination = why;
    this.member.traffic.delete(this);
    try {
      this.#upstream.close();
    } catch {
      // closed already (ERR_SOCKET_DGRAM_NOT_RUNNING): the flow must still leave the table below
    }
    // source-ip: the client's entry expires `timeout` after its last flow ended
    if (this.#holdsPlace) {
      this.#dispatcher.release(this.member, this.#key, this.bytesIn, this.bytesOut);
    } else {
      this.member.bytesIn += this.bytesIn;
      this.member.bytesOut += this.bytesOut;
    }
    this.#owner.flowClosed(this);
  }

  #onError = (err: NodeJS.ErrnoException): void => {
    if (this.local === null) {
      if (this.#closed) return; // told already (the connect's callback and the socket may both say it)
      // No socket (EMFILE at bind, most often): the flow cannot carry anything, and must not
      // hold a slot of the table. Our own shortage, not the member's failure.
      this.#owner.socketFailed(this, err);
      this.close('error');
      return;
    }
    // An ICMP port unreachable from the member shows up here (ECONNREFUSED); the flow stays
    // until idle (or its member is ejected) so a retransmitting client is not bounced between members.
    if (MEMBER_ERRORS.has(err.code ?? '')) {
      this.member.failed++;
      this.member.passive.failure('unreachable');
    }
  };
}

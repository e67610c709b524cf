// Keep-alive towards the members: per member, the connections that finished a request and may
// carry the next one. The most recently used is taken first (it is the least likely to have
// been closed by the member); each waits at most the idle timeout, and at most `maxIdle` wait.
// Those of a member that stops serving are closed at once: nothing will be sent on them.
// Requests to a pool whose members speak HTTP/2 (member-protocol h2 or h2c) go as streams on
// shared sessions instead (h2-member-sessions.ts): nothing is kept idle per request.

import type { HttpServiceConfig } from '../../config/http-types.ts';
import type { Logger } from '../../log.ts';
import { POOL_HTTP2_DEFAULTS } from '../../config/member-protocol-schema.ts';
import type { PoolConfig } from '../../config/types.ts';
import type { Member } from '../../runtime/member.ts';
import type { MemberTraffic } from '../../runtime/member-down.ts';
import type { TrafficList } from '../../runtime/member-traffic.ts';
import type { ResourceCounts } from '../../runtime/resources.ts';
import type { StreamEngine } from '../stream.ts';
import { H2MemberSessions } from './h2-member-sessions.ts';
import { TlsSessions, Upstream } from './upstream.ts';

/**
 * The idle connections to one member, oldest first. It is in the member's traffic while it is
 * in the map (a member that stops serving closes them); a list per member, kept while the member
 * has idle connections, so requests taking and giving back connections change no traffic list.
 */
class IdleList implements MemberTraffic {
  readonly ups: Upstream[] = [];
  readonly #owner: MemberConnections;
  trafficPrev: MemberTraffic | null = null;
  trafficNext: MemberTraffic | null = null;
  trafficList: TrafficList<MemberTraffic> | null = null;

  constructor(owner: MemberConnections) {
    this.#owner = owner;
  }

  memberDown(member: Member): void {
    this.#owner.memberDown(member);
  }
}

export class MemberConnections {
  /** connections opened so far, for every member (tests and counters read it) */
  opened = 0;
  readonly #idle = new Map<Member, IdleList>();
  readonly #sessions = new TlsSessions();
  /** the HTTP/2 sessions to members of h2 and h2c pools */
  readonly h2: H2MemberSessions;
  readonly #engine: StreamEngine;
  /** idle connections hold descriptors too: the budget counts them (idleMemberConnections) */
  readonly #resources: ResourceCounts | null;
  /** the connection table the budget is reckoned with (its size) */
  readonly #table: { readonly size: number } | null;
  #closed = false;

  /** `engine`: what plain member connections run on */
  constructor(engine: StreamEngine, resources: ResourceCounts | null = null, table: { readonly size: number } | null = null) {
    this.#engine = engine;
    this.#resources = resources;
    this.#table = table;
    this.h2 = new H2MemberSessions(resources);
  }

  #counted(delta: number): void {
    if (this.#resources !== null) this.#resources.idleMemberConnections += delta;
  }

  // A client counted in the budget as its own descriptor alone (every HTTP/2 client, whose streams
  // may each hold an HTTP/1.1 member connection) has the member connections its requests hold
  // counted as they are held, and a request of it that needs a new one asks the budget first.

  /** Whether the budget has room for one more member connection of such a client; if not, counted and logged. */
  roomForOne(log: Logger, service: string): boolean {
    const resources = this.#resources;
    if (resources === null || this.#table === null || resources.roomFor(this.#table.size)) return true;
    resources.requestRefusedOverBudget(log, service);
    return false;
  }

  /** Such a client's request took (1) or let go of (-1) an HTTP/1.1 member connection. */
  heldAlone(delta: number): void {
    if (this.#resources !== null) this.#resources.clientOnlyMemberConnections += delta;
  }

  /** An idle connection to `member` that is still open, or null. */
  take(member: Member): Upstream | null {
    const list = this.#idle.get(member)?.ups;
    if (list === undefined) return null;
    while (list.length > 0) {
      const up = list.pop()!;
      this.#counted(-1);
      up.onGone = null;
      if (up.reusable) return up;
      up.destroy();
    }
    return null;
  }

  /**
   * A new connection to `member` (of a pool with `pool`'s config); the caller sets its user
   * before the connect event. To an HTTP/2 member: a new stream on a shared session.
   */
  open(member: Member, config: HttpServiceConfig, pool: PoolConfig | null = null): Upstream {
    const protocol = pool?.memberProtocol ?? 'http1';
    if (protocol !== 'http1') {
      const route = { protocol, settings: pool!.http2 ?? POOL_HTTP2_DEFAULTS, memberTls: protocol === 'h2' ? config.memberTls : null, idleTimeout: config.memberKeepAlive.idleTimeout };
      return new Upstream(member, null, null, this.#engine, { sessions: this.h2, route });
    }
    this.opened++;
    return new Upstream(member, config.memberTls, config.memberTls === null ? null : this.#sessions, this.#engine);
  }

  /** A connection whose exchange is over: kept for the next request when it can be, else closed. */
  release(up: Upstream, config: HttpServiceConfig, now: number): void {
    up.user = null;
    // the last chunk read may still be held by a write to the client: the next read goes elsewhere
    up.stream.keepsChunks = true;
    if (up.stream.borrows === true) up.stream.borrows = false; // an idle connection's reads go nowhere
    const limit = config.memberKeepAlive.maxIdle;
    if (this.#closed || limit === 0 || !up.reusable) {
      up.destroy();
      return;
    }
    let idle = this.#idle.get(up.member);
    if (idle === undefined) {
      this.#idle.set(up.member, (idle = new IdleList(this)));
      up.member.traffic.add(idle);
    }
    const list = idle.ups;
    if (list.length >= limit) {
      // The oldest makes room: it is the most likely to be closed by the member soon anyway.
      list.shift()!.destroy();
      this.#counted(-1);
    }
    up.idleUntil = now + config.memberKeepAlive.idleTimeout;
    up.onGone = this.#forget;
    up.stream.resume(); // an idle member that closes is seen at once
    list.push(up);
    this.#counted(1);
  }

  /** Closes connections idle past their time. The oldest are first in each list. */
  sweep(now: number): void {
    this.h2.sweep(now);
    for (const [member, { ups: list }] of this.#idle) {
      while (list.length > 0 && list[0].idleUntil <= now) {
        list.shift()!.destroy();
        this.#counted(-1);
      }
      if (list.length === 0) this.#forgetMember(member);
    }
  }

  /** The member stopped serving: its idle connections close (whatever on-member-down says). */
  memberDown(member: Member): void {
    const list = this.#idle.get(member)?.ups;
    if (list !== undefined) {
      for (const up of list.splice(0)) {
        up.onGone = null;
        up.destroy();
        this.#counted(-1);
      }
    }
    this.#forgetMember(member);
  }

  #forgetMember(member: Member): void {
    const idle = this.#idle.get(member);
    if (idle === undefined) return;
    this.#idle.delete(member);
    member.traffic.delete(idle);
  }

  /** Idle connections, all members together. */
  get idle(): number {
    let n = 0;
    for (const idle of this.#idle.values()) n += idle.ups.length;
    return n;
  }

  /** Closes every idle connection; later releases close theirs too. */
  close(): void {
    this.#closed = true;
    this.h2.close();
    for (const [member, idle] of this.#idle) {
      member.traffic.delete(idle);
      for (const up of idle.ups.splice(0)) {
        up.destroy();
        this.#counted(-1);
      }
    }
    this.#idle.clear();
  }

  /** An idle connection the member closed. */
  #forget = (up: Upstream): void => {
    const list = this.#idle.get(up.member)?.ups;
    if (list === undefined) return;
    const i = list.indexOf(up);
    if (i === -1) return;
    list.splice(i, 1);
    this.#counted(-1);
  };
}

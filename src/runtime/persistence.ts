// The persistence of one service, live: its stick table (stateful methods) or what it needs to
// read the member out of a request (stateless methods), and the one rule every data plane
// follows when it chooses a member for a client:
//
//   a remembered (or named) member wins while it may take the client — up, not disabled, and
//   under its limit; a drained member still takes its persistent clients — otherwise the pool's
//   algorithm chooses, and a stateful method remembers that choice.
//
// The rule's place among the others (balancer, limits, queue, retries) is runtime/dispatch.ts:
// the data planes call the Dispatcher, which asks this for the client's member. A data plane
// only derives the client's key here: clientKey(address) (source-ip), helloKey(ClientHello)
// (tls-session), requestKey(request) (url, hash), `cookie.fromRequest` (cookie); and tells
// learned(key, member) what a member's TLS handshake names (tls-session).

import { randomBytes } from 'node:crypto';
import { hashString, Maglev } from '../balance/index.ts';
import { isSkipped } from '../balance/eligible.ts';
import type { PersistenceConfig } from '../config/persistence-types.ts';
import { MemberCookie } from '../persistence/cookie.ts';
import { hashKeyOf, type RequestView } from '../persistence/hash.ts';
import { sourceKey } from '../persistence/source-ip.ts';
import { StickTable } from '../persistence/stick-table.ts';
import {
  type ClientHelloInfo,
  sessionIdKey,
  ticketKey,
} from '../persistence/tls-session.ts';
import { memberIdFromUrl } from '../persistence/url.ts';
import type { Member } from './member.ts';
import type { Pool } from './pool.ts';

/** Signs cookies when the config gives no secret: cookies last as long as this process. */
const PROCESS_SECRET = randomBytes(32);

export class ServicePersistence {
  readonly config: PersistenceConfig;
  /** the pool the remembered member ids belong to */
  readonly poolName: string;
  /** stateful methods (source-ip, tls-session): who is remembered; null for stateless ones */
  readonly table: StickTable | null;
  /** cookie method: makes and reads the cookie values; null for the others */
  readonly cookie: MemberCookie | null;
  /** clients whose remembered or named member could not take them, so the pool chose again */
  repinned = 0;

  /** hash method: Maglev over the pool's primary members, rebuilt when they change */
  readonly #maglev: Maglev<Member> | null;
  #maglevOf: readonly Member[] | null = null;
  #maglevWeights: number[] = [];

  constructor(serviceName: string, poolName: string, config: PersistenceConfig, now?: () => number) {
    this.config = config;
    this.poolName = poolName;
    this.table = config.method === 'source-ip' || config.method === 'tls-session'
      ? new StickTable({ maxEntries: config.maxEntries, timeout: config.timeout, now })
      : null;
    this.cookie = config.method === 'cookie'
      ? new MemberCookie({ ...config, secret: config.secret ?? PROCESS_SECRET, scope: serviceName, exposeAddress: config.exposeAddress })
      : null;
    this.#maglev = config.method === 'hash' ? new Maglev<Member>([]) : null;
  }

  /** Persistence stays across a reload when nothing it depends on changed. */
  sameAs(poolName: string, config: PersistenceConfig): boolean {
    return poolName === this.poolName && JSON.stringify(config) === JSON.stringify(this.config);
  }

  // ---- keys: what identifies a client, per method -----------------------------------------

  /** source-ip: the key of a client address (masked); null for the other methods. */
  clientKey(address: string): string | null {
    const c = this.config;
    return c.method === 'source-ip' ? sourceKey(address, c) : null;
  }

  /**
   * tls-session: the key of the session a ClientHello asks to resume — its ticket when the
   * table knows it, else its session ID; null when it offers neither.
   */
  helloKey(hello: ClientHelloInfo): string | null {
    const ticket = hello.ticket === null ? null : ticketKey(hello.ticket);
    const id = hello.sessionId === null ? null : sessionIdKey(hello.sessionId);
    if (ticket !== null && (id === null || this.table?.peek(ticket) !== undefined)) return ticket;
    return id;
  }

  /**
   * url and hash: the key a request carries (a member id for url, the value to hash for hash);
   * cookie: use `cookie.fromRequest` (it also gives the header to forward). null when none.
   */
  requestKey(request: RequestView): string | null {
    const c = this.config;
    if (c.method === 'url') return memberIdFromUrl(request.target, c) ?? null;
    if (c.method === 'hash') return hashKeyOf(request, c) ?? null;
    return null;
  }

  // ---- choosing (the rule is runtime/dispatch.ts; these are its persistence steps) --------

  /** The member `key` names or is remembered for, if it is in the pool and not skipped. */
  lookup(pool: Pool, key: string, skip: readonly Member[] | null): Member | undefined {
    let member: Member | undefined;
    if (this.table !== null) {
      const id = this.table.get(key);
      member = id === undefined ? undefined : pool.member(id);
    } else if (this.cookie !== null) {
      member = this.cookie.memberOf(key, pool.members);
    } else if (this.config.method === 'url') {
      member = pool.member(key);
    }
    return member === undefined || isSkipped(member, skip) ? undefined : member;
  }

  /** `when-full: wait` and `member` serves its clients but is at its limit: the client waits for it. */
  waitsFor(member: Member): boolean {
    return this.config.whenFull === 'wait' && member.servesExisting && member.full;
  }

  /**
   * A new member for a client with `key` whose remembered one cannot take it, counted as active:
   * the pool's algorithm (`hash` is what it reads); for hash, Maglev over the key first.
   */
  choose(pool: Pool, key: string, hash: number, skip: readonly Member[] | null): Member | undefined {
    return this.#maglev === null ? pool.acquire(hash, skip) : this.#hashed(pool, key, skip);
  }

  /**
   * The pool chose `member` for a client with `key` (the queue served it, or acquire() did):
   * source-ip remembers it. tls-session remembers what the server says instead (`learned`).
   */
  picked(key: string, member: Member): void {
    if (this.config.method === 'source-ip') this.table!.set(key, member.id);
  }

  /** tls-session: the member's ServerHello or NewSessionTicket named a session: remember it. */
  learned(key: string, member: Member): void {
    this.table?.set(key, member.id);
  }

  /**
   * A client's connection or flow on `member` ended: source-ip starts the entry's timeout
   * again, so it counts from the client's last activity, unless the key has moved meanwhile.
   */
  ended(key: string | null, member: Member): void {
    if (key === null || this.config.method !== 'source-ip' || member.poolName !== this.poolName) return;
    const table = this.table!;
    const entry = table.peek(key);
    if (entry === undefined || entry.member === member.id) table.set(key, member.id);
  }

  /** hash: the key's member by Maglev over the usable primaries, else the pool's own choice. */
  #hashed(pool: Pool, key: string, skip: readonly Member[] | null): Member | undefined {
    this.#syncMaglev(pool.members);
    const hash = hashString(key);
    const member = this.#maglev!.pick(hash, skip);
    if (member !== undefined && pool.acquireMember(member)) return member;
    return pool.acquire(hash, skip);
  }

  /** Rebuilds the Maglev table only when the members or their weights changed. */
  #syncMaglev(members: readonly Member[]): void {
    let same = members === this.#maglevOf;
    for (let i = 0; same && i < members.length; i++) same = members[i].weight === this.#maglevWeights[i];
    if (same) return;
    this.#maglevOf = members;
    this.#maglevWeights = members.map((m) => m.weight);
    this.#maglev!.update(members.filter((m) => !m.backup));
  }
}

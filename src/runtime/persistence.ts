// The persistence of one service, live: its stick table (stateful methods) or what it needs to
// read the member out of a request (stateless methods), and the one rule every data plane
// follows when it chooses a member for a client:
//
//   a remembered (or named) member wins while it may take the client — up, not disabled, and
//   under its limit; a drained member still takes its persistent clients — otherwise the pool's
//   algorithm chooses, and a stateful method remembers that choice.
//
// How a data plane uses it (`service.persistence`, null when the service has none):
//   tcp, udp  key = clientKey(address) (source-ip) or helloKey(ClientHello) (tls-session);
//             member = acquire(pool, key, hash, tried) in place of pool.acquire(hash, tried);
//             picked(key, member) when the queue gives a member; learned(key, member) for what
//             the member's TLS handshake names; ended(key, member) when the connection ends.
//   http      source-ip as tcp. cookie: `const c = cookie.fromRequest(cookieHeader)`, forward
//             `c.forward` as the Cookie header, member = acquire(pool, c.value ?? null, ...),
//             then send `cookie.toResponse(setCookies, member, c.value)` as the Set-Cookie
//             headers. url, hash: member = acquire(pool, requestKey({ target, header }), ...).

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
import type { Pool, Waiter } from './pool.ts';

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

  // ---- choosing ---------------------------------------------------------------------------

  /**
   * The member for a client with `key` (null = none known), counted as active; undefined
   * when none may take it (then the caller queues or refuses, as without persistence).
   * `hash` and `skip` are what pool.acquire() takes. What `key` is depends on the method:
   * a stick-table key (source-ip, tls-session), a cookie value (cookie), a member id (url),
   * a value to hash (hash).
   */
  acquire(pool: Pool, key: string | null, hash: number, skip: readonly Member[] | null): Member | undefined {
    if (key !== null) {
      const sticky = this.#named(pool, key, skip);
      if (sticky !== undefined) {
        if (pool.acquireMember(sticky)) return sticky;
        // only full, and the client waits for it: the caller queues it (enqueue() below)
        if (this.#waitsFor(sticky)) return undefined;
        this.repinned++;
      }
    }
    const member = this.#maglev !== null && key !== null ? this.#hashed(pool, key, skip) : pool.acquire(hash, skip);
    if (member !== undefined && key !== null) this.picked(key, member);
    return member;
  }

  /**
   * A place in the pool's queue for a client acquire() found no member for: with `when-full:
   * wait`, for its own member when that one is only full (it takes nobody else's turn there,
   * and goes to any member if its own stops serving meanwhile); else for any member.
   */
  enqueue(pool: Pool, key: string | null, hash: number, skip: readonly Member[] | null, done: (member: Member | undefined) => void): Waiter {
    let own: Member | undefined;
    if (key !== null && this.config.whenFull === 'wait') {
      own = this.#named(pool, key, skip);
      if (own !== undefined && !this.#waitsFor(own)) own = undefined;
    }
    return pool.enqueue(hash, done, own ?? null);
  }

  /** `when-full: wait` and `member` serves its clients but is at its limit. */
  #waitsFor(member: Member): boolean {
    return this.config.whenFull === 'wait' && member.servesExisting && member.full;
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

  /** The member `key` names or is remembered for, if it is in the pool and not skipped. */
  #named(pool: Pool, key: string, skip: readonly Member[] | null): Member | undefined {
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

// The persistence of one service, live: its method (persistence/: where the key comes from, the
// stick table or what the request carries) and the rule every data plane follows when it
// chooses a member for a client:
//
//   a remembered (or named) member wins while it may take the client — up, not disabled, and
//   under its limit; a drained member still takes its persistent clients — otherwise the pool's
//   algorithm chooses, and a method that remembers choices (source-ip) remembers that one.
//
// The rule's place among the others (balancer, limits, queue, retries) is runtime/dispatch.ts:
// the data planes call the Dispatcher, which asks this for the client's member. A data plane
// only derives the client's key here, from what `method.keySource` says: clientKey(address),
// helloKey(ClientHello), requestKey(request), or `cookie.fromRequest` (cookie); and tells
// learned(key, member) what a member's TLS handshake names (tls-session).

import { isSkipped } from '../balance/eligible.ts';
import { hashString } from '../balance/hash.ts';
import type { PersistenceConfig } from '../config/persistence-types.ts';
import { cookieOf, type MemberCookie } from '../persistence/cookie.ts';
import type { ClientHelloInfo, MethodDescriptor, MethodState, RequestView } from '../persistence/method.ts';
import { methodOf } from '../persistence/methods.ts';
import type { StickTable } from '../persistence/stick-table.ts';
import type { Member } from './member.ts';
import type { Pool } from './pool.ts';
import { processSecrets } from './process-secrets.ts';

export class ServicePersistence {
  readonly config: PersistenceConfig;
  /** what the method is: where its key comes from, stateful or not, what the kernel can do */
  readonly method: MethodDescriptor<PersistenceConfig>;
  /** the pool the remembered member ids belong to */
  readonly poolName: string;
  /** stateful methods (source-ip, tls-session): who is remembered; null for stateless ones */
  readonly table: StickTable | null;
  /** cookie method: makes and reads the cookie values; null for the others */
  readonly cookie: MemberCookie | null;
  /** clients whose remembered or named member could not take them, so the pool chose again */
  repinned = 0;
  /**
   * Worker threads: a new client's member is chosen from its key alone (source-ip), so that
   * two threads taking its first connections at the same instant, before either has heard of
   * the other's choice, choose the same member. Set by the worker (data-side.ts).
   */
  agreeAcrossThreads = false;

  readonly #state: MethodState<Member>;

  constructor(serviceName: string, poolName: string, config: PersistenceConfig, now?: () => number) {
    this.config = config;
    this.poolName = poolName;
    this.method = methodOf(config);
    // no secret in the config: the process's, so cookies last as long as the process and every worker signs alike
    this.#state = this.method.create<Member>(config, { scope: serviceName, secret: processSecrets().cookie, now });
    this.table = this.#state.table;
    this.cookie = cookieOf(this.#state);
  }

  /** Persistence stays across a reload when nothing it depends on changed. */
  sameAs(poolName: string, config: PersistenceConfig): boolean {
    return poolName === this.poolName && JSON.stringify(config) === JSON.stringify(this.config);
  }

  // ---- keys: what identifies a client, per method -----------------------------------------

  /** The key of a client address (source-ip: masked); null for the other methods. */
  clientKey(address: string): string | null {
    return this.#state.addressKey?.(address) ?? null;
  }

  /** The key of the session a ClientHello asks to resume (tls-session); null when none. */
  helloKey(hello: ClientHelloInfo): string | null {
    return this.#state.helloKey?.(hello) ?? null;
  }

  /**
   * url and hash: the key a request carries (a member id for url, the value to hash for hash);
   * cookie: use `cookie.fromRequest` (it also gives the header to forward). null when none.
   */
  requestKey(request: RequestView): string | null {
    return this.#state.requestKey?.(request) ?? null;
  }

  // ---- choosing (the rule is runtime/dispatch.ts; these are its persistence steps) --------

  /** The member `key` names or is remembered for, if it is in the pool and not skipped. */
  lookup(pool: Pool, key: string, skip: readonly Member[] | null): Member | undefined {
    const member = this.#state.named(key, pool);
    return member === undefined || isSkipped(member, skip) ? undefined : member;
  }

  /** `when-full: wait` and `member` serves its clients but is at its limit: the client waits for it. */
  waitsFor(member: Member): boolean {
    return this.config.whenFull === 'wait' && member.servesExisting && member.full;
  }

  /**
   * A new member for a client with `key` whose remembered one cannot take it, counted as active:
   * the method's own choice when it has one and it may take the client (hash: Maglev), else the
   * pool's algorithm (reading `hash`, or the key's own for hash).
   */
  choose(pool: Pool, key: string, hash: number, skip: readonly Member[] | null): Member | undefined {
    const state = this.#state;
    if (state.choose !== undefined) {
      const own = state.choose(key, pool, skip);
      if (own !== undefined && pool.acquireMember(own)) return own;
    }
    if (this.agreeAcrossThreads && this.method.remembersChoice) return pool.acquireByHash(hashString(key), skip);
    return pool.acquire(state.hashOf?.(key) ?? hash, skip);
  }

  /**
   * The pool chose `member` for a client with `key` (the queue served it, or the algorithm):
   * source-ip remembers it. tls-session remembers what the server says instead (`learned`).
   */
  picked(key: string, member: Member): void {
    if (this.method.remembersChoice) this.table!.set(key, member.id);
  }

  /** tls-session: the member's ServerHello or NewSessionTicket named a session: remember it. */
  learned(key: string, member: Member): void {
    this.table?.set(key, member.id);
  }

  /**
   * A client's connection or flow on `member` ended: source-ip starts the entry's timeout
   * again, so it counts from the client's last activity, unless the key has moved meanwhile or
   * an operator (or an ha peer) deleted it: see StickTable.restore.
   */
  ended(key: string | null, member: Member): void {
    if (key === null || !this.method.remembersChoice || member.poolName !== this.poolName) return;
    this.table!.restore(key, member.id);
  }
}

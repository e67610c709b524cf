// The one rule for choosing a member, used by every data plane: tcp (per connection), http (per
// request) and udp (per flow). The caller keeps only its I/O (connect, forward) and the little
// state of its client: the persistence key, the hash, the members it has tried.
//
// The first choice:
//   1. persistence: the member the client's key names (remembered in the stick table, or carried
//      by the request) wins while it may take the client — up, not disabled or stopped by its
//      agent, under its max-connections; a draining member still takes its persistent clients.
//      Full with `when-full: wait`: the client waits in the queue for that member.
//   2. otherwise the pool's algorithm over the usable members (primaries; backups only when no
//      primary is usable; hash: Maglev over the key first), and source-ip remembers that choice
//      (the client has moved; tls-session remembers what the member's handshake names).
//   3. none with room: the caller queues (with the pool's timeout) when members are only full,
//      turns the client away when the queue is full, refuses at once when none is usable.
// The fallbacks (a retry after a connect failed, or a member closed before answering):
//   the same rule with every member already tried skipped — so a retry after the remembered
//   member failed goes to the algorithm's choice among the members not yet tried, and the member
//   chosen is remembered (HAProxy's `option redispatch`). When every usable member has been
//   tried, the algorithm chooses again among all of them (a pool of one member still retries
//   it), up to `retries` further attempts. A member from the queue is remembered too.
//
// A Dispatcher belongs to one service as configured: a reload makes a new one, and a connection,
// request or flow keeps the one it started with, so its end is recorded by the rule it began under.

import type { OnMemberDown } from '../config/types.ts';
import type { Member } from './member.ts';
import type { ServicePersistence } from './persistence.ts';
import type { Pool, Waiter } from './pool.ts';

export class Dispatcher {
  readonly pool: Pool;
  /** the service's persistence (null: none) */
  readonly persistence: ServicePersistence | null;
  /** further members tried after a failure (the service's `retries`) */
  readonly retries: number;
  /** what the live traffic of a member that stops serving does (member-down.ts) */
  readonly onMemberDown: OnMemberDown;

  constructor(pool: Pool, persistence: ServicePersistence | null, retries: number, onMemberDown: OnMemberDown = 'keep') {
    this.pool = pool;
    this.persistence = persistence;
    this.retries = retries;
    this.onMemberDown = onMemberDown;
  }

  /**
   * The member for a client with `key` (null: none known) and `hash` (what the hashing
   * algorithms read), counted as active; `tried` is null for the first choice, else the members
   * that failed this client so far. undefined: none may take it now (see `refusal`).
   */
  choose(key: string | null, hash: number, tried: readonly Member[] | null): Member | undefined {
    const p = this.persistence;
    const member = p === null || key === null ? this.pool.acquire(hash, tried) : this.#persistent(p, key, hash, tried);
    if (member !== undefined || tried === null) return member;
    // every usable member has been tried: round again, by the algorithm (the remembered member
    // failed, so persistence does not get to choose it first)
    const again = this.pool.acquire(hash, null);
    if (again !== undefined && key !== null) p?.picked(key, again);
    return again;
  }

  /**
   * Why choose() found no member for the client with `key` (having tried `tried`): 'unusable'
   * (no member is up and enabled, and the client's own member does not wait for it: refuse at
   * once), 'queue-full' (all are at their limits and the queue is full: turn away), or null (the
   * client may wait: call wait()). A full draining member keeps its `when-full: wait` clients.
   */
  refusal(key: string | null = null, tried: readonly Member[] | null = null): 'unusable' | 'queue-full' | null {
    const pool = this.pool;
    if (!pool.hasAvailable() && this.#ownToWaitFor(key, tried) === undefined) return 'unusable';
    return pool.queueFull ? 'queue-full' : null;
  }

  /**
   * A place in the pool's queue: `done` gets a member (counted as active) when room appears, or
   * undefined at the queue timeout. With `when-full: wait`, a client whose own member is only
   * full waits for that member (it takes nobody else's turn there, and goes to any member once
   * its own stops serving); else for any member.
   */
  wait(key: string | null, hash: number, tried: readonly Member[] | null, done: (member: Member | undefined) => void): Waiter {
    return this.pool.enqueue(hash, done, this.#ownToWaitFor(key, tried) ?? null);
  }

  /** The queue gave `member` to the client with `key`: a stateful method remembers it. */
  queued(key: string | null, member: Member): void {
    if (key !== null) this.persistence?.picked(key, member);
  }

  /**
   * The client's connection, request or flow on `member` ended: its place is given back (to the
   * first waiter), and source-ip starts the entry's timeout again from this last activity.
   */
  release(member: Member, key: string | null, bytesIn: number, bytesOut: number): void {
    if (key !== null) this.persistence?.ended(key, member);
    this.pool.release(member, bytesIn, bytesOut);
  }

  /** With `when-full: wait`, the client's own member when it is only full: the client waits for it. */
  #ownToWaitFor(key: string | null, tried: readonly Member[] | null): Member | undefined {
    const p = this.persistence;
    if (p === null || key === null || p.config.whenFull !== 'wait') return undefined;
    const own = p.lookup(this.pool, key, tried);
    return own !== undefined && p.waitsFor(own) ? own : undefined;
  }

  /** Steps 1 and 2 of the rule, for a client whose key is known. */
  #persistent(p: ServicePersistence, key: string, hash: number, skip: readonly Member[] | null): Member | undefined {
    const pool = this.pool;
    const own = p.lookup(pool, key, skip);
    if (own !== undefined) {
      if (pool.acquireMember(own)) return own;
      // only full, and the client waits for it: the caller queues it (wait())
      if (p.waitsFor(own)) return undefined;
      p.repinned++;
    }
    const member = p.choose(pool, key, hash, skip);
    if (member !== undefined) p.picked(key, member);
    return member;
  }
}

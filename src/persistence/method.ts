// What every persistence method is, as one small interface: where it reads a client's key from,
// whether it keeps a stick table (stateful) or the client carries its member (stateless), what
// the kernel path can do with it, and — per service — how a key names a member. Each method is
// one file (source-ip.ts, tls-session.ts, cookie.ts, url.ts, hash.ts) and one line of
// methods.ts; runtime/persistence.ts keeps only the rule that uses them. Pure: no I/O, and
// nothing from runtime/ or proxy/ (a member is what `Stickable` says).

import type { Candidate } from '../balance/balancer.ts';
import type { PersistenceConfig } from '../config/persistence-types.ts';
import type { StickTable } from './stick-table.ts';

/** What persistence reads of a member (runtime/member.ts has it). */
export interface Stickable extends Candidate {
  readonly backup: boolean;
  /** "host:port" (the cookie's expose-address names it) */
  readonly endpoint: string;
}

/** A pool's members as persistence reads them (runtime/pool.ts has it). */
export interface MemberSet<M extends Stickable> {
  readonly members: readonly M[];
  member(id: string): M | undefined;
}

/** What the url and hash methods read of a request. */
export interface RequestView {
  /** the request-target: path and query (`/cart;jsessionid=ABC.s2?user=42`) */
  readonly target: string;
  /** the value of a header by its lower-case name (the first, when repeated); undefined when absent */
  header(name: string): string | undefined;
}

/** What a ClientHello asks to resume (tls-session.ts reads it); null where it offers nothing. */
export interface ClientHelloInfo {
  sessionId: Buffer | null;
  /** a TLS 1.2 session ticket (RFC 5077); null when absent or empty */
  ticket: Buffer | null;
  /** the client offers TLS 1.3 (supported_versions) */
  offersTls13: boolean;
}

/**
 * Where a client's key comes from: its address (any data plane), the ClientHello of its TLS
 * handshake (tcp), or its HTTP request (http).
 */
export type KeySource = 'address' | 'tls-hello' | 'request';

/** What the kernel path (nat, dsr) keeps for a method: a set per member, by client network. */
export interface KernelPersistence {
  /** prefix length of the client network that is the key */
  prefix: number;
  /** ms an entry lives without use */
  timeout: number;
  /** the most entries per set */
  size: number;
}

/** One method's live state in one service. */
export interface MethodState<M extends Stickable> {
  /** stateful methods: the clients remembered (key -> member id); null for stateless ones */
  readonly table: StickTable | null;
  /** keySource 'address': the key of a client address; null when it is not one */
  addressKey?(address: string): string | null;
  /** keySource 'tls-hello': the key of the session a ClientHello asks to resume; null when none */
  helloKey?(hello: ClientHelloInfo): string | null;
  /** keySource 'request' (url, hash): the key a request carries; null when none */
  requestKey?(request: RequestView): string | null;
  /** The member `key` names — remembered, or carried by the client; undefined when none of `members`. */
  named(key: string, pool: MemberSet<M>): M | undefined;
  /**
   * The method's own choice for a key whose named member (if any) cannot take it (hash:
   * Maglev over the usable primaries); undefined: the pool's algorithm chooses.
   */
  choose?(key: string, pool: MemberSet<M>, skip: readonly M[] | null): M | undefined;
  /** The hash the pool's algorithm reads for `key` when it chooses (hash: the key's); undefined: the client's. */
  hashOf?(key: string): number;
}

/** What a method's state is made with, besides the service's config of it. */
export interface MethodContext {
  /** the service's name: cookie values of one service mean nothing to another */
  scope: string;
  /** signs cookie values when the config gives no secret */
  secret: Buffer;
  /** the stick table's clock (tests drive it) */
  now?: () => number;
}

export interface MethodDescriptor<C extends PersistenceConfig> {
  readonly name: C['method'];
  /** keeps clients in a stick table, which the API lists (GET /stick-tables); else the client carries its member */
  readonly stateful: boolean;
  readonly keySource: KeySource;
  /**
   * The member the pool chooses for a client is remembered, and each connection's end starts
   * the entry's timeout again (source-ip). tls-session remembers what members' handshakes name.
   */
  readonly remembersChoice: boolean;
  /** What the kernel path keeps for it, by address family; null: the kernel cannot. */
  readonly kernel: ((config: C, family: 'ip' | 'ip6') => KernelPersistence) | null;
  create<M extends Stickable>(config: C, context: MethodContext): MethodState<M>;
}

// What the kernel fast path (kernel/) keeps outside this process, as the runtime shows it: the
// connections of nat and dsr services (from conntrack, or dsr's flow sets) and their persistence
// entries (nftables sets). The kernel plane implements KernelTables and sets `runtime.kernel`;
// the admin API reads through it, next to the user-space connection table.

import type { ConnectionFilter, Endpoint } from './connection-table.ts';
import type { Member } from './member.ts';

/** One connection of a nat or dsr service: client -> VIP, translated to client -> member. */
export interface KernelConnection {
  /** conntrack's id (nat); for a dsr flow, one furiwake gives it while it is listed, above 2^32 */
  readonly id: number;
  readonly protocol: 'tcp' | 'udp';
  readonly service: string;
  readonly mode: 'nat' | 'dsr';
  /** the client's address and port */
  readonly client: Endpoint;
  /** the service address the client reached */
  readonly vip: Endpoint;
  /** null when the member it went to is no longer in the pool */
  readonly member: Member | null;
  /** where the kernel sent it: the member's address and port */
  readonly target: Endpoint;
  /** full-NAT: the balancer's address and port toward the member; null when the member sees the client */
  readonly local: Endpoint | null;
  /** conntrack's state (ESTABLISHED, TIME_WAIT, UNREPLIED, ...); `forwarding` for a dsr flow */
  readonly state: string;
  /** ms until the kernel forgets it unless traffic refreshes it */
  readonly expiresIn: number;
  /** ms since epoch; null where the kernel does not record it (nf_conntrack_timestamp=0, dsr) */
  readonly startedAt: number | null;
  /** bytes client -> member and member -> client; null without nf_conntrack_acct=1, and for dsr */
  readonly bytesIn: number | null;
  readonly bytesOut: number | null;
}

/** One persistence entry of a nat or dsr service: a client network kept on a member. */
export interface StickyEntry {
  readonly service: string;
  /** the client network, `10.1.2.0/24` (the address itself for a /32 or /128) */
  readonly key: string;
  readonly member: Member | null;
  /** ms until the entry expires unless a new connection refreshes it */
  readonly expiresIn: number;
}

export interface KernelTables {
  /** the live connections of the kernel services, optionally of one service or member */
  connections(filter?: ConnectionFilter): Promise<KernelConnection[]>;
  /** the persistence entries of a kernel service with `persistence: source-ip` */
  sticky(service: string): Promise<StickyEntry[]>;
  /** the persistence entries of every kernel service, one listing per nftables family (the pair's replication reads it) */
  allSticky(): Promise<StickyEntry[]>;
  /**
   * Adds entries a peer of the pair replicated to the service's persistence sets, soon (nft runs
   * after this returns). Returns how many it takes: those of a service, key, member or timeout
   * this node cannot take are ignored.
   */
  adoptSticky(service: string, entries: readonly { key: string; member: string; expiresIn: number }[]): number;
  /**
   * Ends one connection: nat, its conntrack entry is deleted (by its original tuple); dsr, its
   * flow entry is deleted (tcp: its next packets get a reset from the balancer). Returns how
   * many entries went (0: it had ended meanwhile).
   */
  end(connection: KernelConnection): Promise<number>;
  /**
   * Ends the nat connections and dsr flows of the services (of `pool`, when given) that match
   * `filter`, one deletion per service and member of the pool. Returns how many entries went.
   */
  endAll(filter: ConnectionFilter, pool?: string): Promise<number>;
}

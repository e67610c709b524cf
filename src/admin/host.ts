// What the admin plane needs of the running furiwake (the app implements it), and what its
// routes share: the rate estimator, the stick tables, the token rules.

import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/types.ts';
import type { ConntrackSync } from '../ha/conntrack-sync.ts';
import type { HaRole, HaStatus } from '../ha/status.ts';
import type { HealthEventMap } from '../health/manager.ts';
import type { Logger } from '../log.ts';
import type { SyncPeerStatus } from '../ha/status.ts';
import type { OperatorChange } from '../ha/sync-frame.ts';
import type { Endpoint } from '../runtime/connection-table.ts';
import type { Member } from '../runtime/member.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { RateEstimator } from './rates.ts';
import type { ConnectionView } from './schemas.ts';
import type { StickTables, StickTableSource } from './stick-tables.ts';

/** Datagrams a udp listener dropped since it was bound, by reason. */
export interface DatagramDrops {
  /** from clients: not a well-formed message of the `balance-per` protocol (or a SIP response in no known dialog) */
  malformed: number;
  /** from members: malformed, or answering nothing the client sent (`balance-per`) */
  unmatched: number;
  /** from clients: no member was usable */
  noMember: number;
}

/** The active/standby pair as the admin plane sees it; every answer is null without an `ha` section. */
export interface HaControl {
  status(): HaStatus | null;
  /** on: hand the VIPs to the peer until undone; off: take part in the election again */
  handover(on: boolean): HaStatus | null;
  /** transitions into each role since start */
  transitionsTotal(): ReadonlyMap<HaRole, number> | null;
  /** kernel connection sync (conntrackd), for its metrics; null when it does not run */
  conntrackSync(): ConntrackSync | null;
}

/** Which connections: the API's filters, by name (member needs pool). */
export interface ConnectionsOf {
  service?: string;
  pool?: string;
  member?: string;
}

export interface ConnectionQuery extends ConnectionsOf {
  /** show request targets with their query strings */
  showQuery: boolean;
  /** how many views to send: the oldest (a page of the API) or the newest (the dashboard) */
  take: number;
  newest: boolean;
}

/** The worker threads' live figures as of their last report: what the runtime's own objects do not hold. */
export interface ThreadsLive {
  /** bytes moved by their live connections, by member */
  bytes: ReadonlyMap<Member, { in: number; out: number }>;
  /** their live connections by service */
  services: ReadonlyMap<string, number>;
  /** clients waiting in their pools' queues, by pool */
  queued: ReadonlyMap<string, number>;
  /** their live connections in all */
  connections: number;
}

/**
 * The worker threads that serve tcp and http services (global.workers above 1), as the admin
 * plane reads them (workers/workers-view.ts).
 */
export interface DataThreads {
  /**
   * Adds what each worker counted since it was last asked to the runtime's own members, pools and
   * tables, and takes their live figures: every reader of the runtime then shows the sums.
   */
  refresh(): Promise<void>;
  live(): ThreadsLive;
  /** Each worker's part of the connection table: how many match, and `take` of them */
  connections(query: ConnectionQuery): Promise<{ total: number; items: ConnectionView[] }[]>;
  /** Ends connection `id` where a worker holds it: how many ended there (0 or 1) and which worker; null when the id is no worker's */
  end(id: number): Promise<{ ended: number; worker: number } | null>;
  /** Ends every worker's connections that match; how many */
  endAll(of: ConnectionsOf): Promise<number>;
}

export interface AdminHost {
  readonly runtime: Runtime;
  readonly log: Logger;
  /** the health manager's events: every check result, for the metrics */
  readonly health: { readonly events: EventEmitter<HealthEventMap> };
  /** reads the config again from where it came from (the CLI's file); null: nothing to read */
  readonly load: (() => Promise<Config>) | null;
  /** applies a config; returns what could not be applied, one line each */
  reload(config: Config): Promise<string[]>;
  /** a service's listener, for its bound address and (udp furiwake forwards itself) its drops */
  listener(service: string): { address(): Endpoint; readonly drops?: DatagramDrops } | undefined;
  /** the replication link of an ha pair (ha/sync.ts); null or absent when ha.sync is not configured */
  readonly haSync?: { status(): { peers: SyncPeerStatus[] }; operatorChanges(): OperatorChange[] } | null;
  /** the stick tables to show; admin/stick-tables.ts stickTablesOf when absent */
  readonly stickTables?: StickTables;
  /** the active/standby pair; absent: none */
  readonly ha?: HaControl;
  /** the worker threads (global.workers above 1); null or absent: this thread serves every connection */
  readonly dataThreads?: DataThreads | null;
}

/** What the routes of one admin plane share. */
export interface ApiContext {
  readonly host: AdminHost;
  readonly rates: RateEstimator;
  readonly startedAt: number;
  stickTables(): StickTableSource[];
  /** whether reads and writes need the token now (the config may change on reload) */
  access(): { reads: 'open' | 'token'; writes: 'open' | 'token' };
  serviceAddress(name: string): Endpoint | null;
  /** the datagrams a udp service dropped; null for other services and those the kernel forwards */
  serviceDrops(name: string): DatagramDrops | null;
  /** throws a 401 unless the request carries the token (when one is set); `what` begins the message */
  requireToken(req: IncomingMessage, what: string): void;
}

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
import type { Runtime } from '../runtime/runtime.ts';
import type { RateEstimator } from './rates.ts';
import type { StickTables, StickTableSource } from './stick-tables.ts';
import type { DataThreads } from './threads.ts';

/** Datagrams a udp listener dropped since it was bound, by reason. */
export interface DatagramDrops {
  /** from clients: not a well-formed message of the `balance-per` protocol (or a SIP response in no known dialog) */
  malformed: number;
  /** from members: malformed, or answering nothing the client sent (`balance-per`) */
  unmatched: number;
  /** from clients: no member was usable */
  noMember: number;
  /** from clients the service's access does not allow */
  denied: number;
}

/** The active/standby pair as the admin plane sees it; every answer is null without an `ha` section. */
export interface HaControl {
  status(): HaStatus | null;
  /** on: hand the VIPs to the peer until undone; off: take part in the election again */
  handover(on: boolean): HaStatus | null;
  /** the config in force has VRRP (ha.interface and ha.router-id), whether keepalived runs now or not */
  movesVips(): boolean;
  /** transitions into each role since start */
  transitionsTotal(): ReadonlyMap<HaRole, number> | null;
  /** kernel connection sync (conntrackd), for its metrics; null when it does not run */
  conntrackSync(): ConntrackSync | null;
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

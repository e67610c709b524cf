// The normalized configuration: what the rest of furiwake reads after the file has been parsed,
// validated and defaulted by config/schema.ts. Keys in the file are kebab-case
// (`max-connections`); here they are camelCase. Durations are milliseconds.

import type { AlgorithmName } from '../balance/index.ts';
import type { Address } from './address.ts';
import type { AdminConfig } from './admin-types.ts';
import type { AccessConfig } from './access-types.ts';
import type { HealthConfig, HealthRule, MonitorConfig } from './health-types.ts';
import type { KernelServiceConfig } from './kernel-types.ts';
import type { PersistenceConfig } from './persistence-types.ts';
import type { HttpServiceConfig } from './http-types.ts';
import type { RateLimitConfig } from './rate-limit-types.ts';
import type { MemberProtocol, PoolHttp2Config } from './member-protocol-schema.ts';
import type { TcpServiceConfig } from './routes-types.ts';

export type { Address, AlgorithmName };
import type { HaConfig } from './ha-types.ts';
import type { LogsConfig } from './logs-types.ts';
export type { HaConfig };
export type Mode = 'tcp' | 'udp' | 'http' | 'nat' | 'dsr';
/** what the live traffic of a member that stops serving does (a pool's on-member-down) */
export type OnMemberDown = 'keep' | 'reselect' | 'close';
export type ProxyProtocolVersion = 'v1' | 'v2';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface GlobalConfig {
  /** how long a stopping process lets live connections finish (ms) */
  shutdownGrace: number;
  logLevel: LogLevel;
  /**
   * worker threads running the tcp and http services; 'auto': the cores the process may run on.
   * Absent or 1: one loop, no worker thread (the default).
   */
  workers?: number | 'auto';
}

export interface ServiceConfig {
  listen: Address;
  mode: Mode;
  pool: string;
  timeouts: {
    /** connect to a member (ms) */
    connect: number;
    /** a connection (tcp) or flow (udp) with no traffic either way is closed after this (ms) */
    idle: number;
  };
  /** further members tried when a connect fails; 0 = only the first choice */
  retries: number;
  proxyProtocol: ProxyProtocolVersion | null;
  /** tcp, http: each client connection starts with a PROXY header (v1 or v2) naming the real client */
  acceptProxy: boolean;
  /** udp only: the most flows at once (clipped by the file descriptor budget); a new client beyond it takes the least recently active flow's place */
  maxFlows: number;
  /** udp only: what is balanced — each client's flow, each RADIUS request, or each SIP dialog */
  balancePer: BalancePer;
  /** tcp, http: connections one client address may have open at once; more are closed at accept. 0 = no cap */
  maxConnectionsPerClient: number;
  /** tcp, http: requests and new connections per client (token buckets); absent or null = none */
  rateLimit?: RateLimitConfig | null;
  /** how a client is kept on one member across connections; null = not at all */
  persistence: PersistenceConfig | null;
  /** tcp, udp: a connection log line when a connection (udp: flow) ends (`access-log`); absent = false. http: see http.accessLog */
  accessLog?: boolean;
  /** tcp, udp, http: the client networks that may use it; null = everyone */
  access: AccessConfig | null;
  /** nat and dsr only: protocol, interface, source-nat, flush-on-down; null otherwise */
  kernel: KernelServiceConfig | null;
  /** http only: TLS, redirect, forwarded headers, timeouts, limits, member TLS and keep-alive; null otherwise */
  http: HttpServiceConfig | null;
  /** tcp only: routes by TLS server name and client network; null otherwise */
  tcp: TcpServiceConfig | null;
}

/** What a udp service balances: a client's whole flow, each RADIUS request, or each SIP dialog (Call-ID). */
export type BalancePer = 'flow' | 'radius-request' | 'sip-dialog';

export interface MemberConfig {
  address: Address;
  /** stable, opaque name of the member within its pool; defaults to host:port */
  id: string;
  weight: number;
  /** 0 = no limit */
  maxConnections: number;
  backup: boolean;
  /** this member's own monitors and rule, replacing the pool's; null = the pool's */
  health: MemberHealthConfig | null;
}

export interface MemberHealthConfig {
  require: HealthRule | null;
  monitors: MonitorConfig[] | null;
}

export interface PoolConfig {
  algorithm: AlgorithmName;
  members: MemberConfig[];
  queue: {
    /** connections that may wait when every member is at its limit; 0 = none wait */
    max: number;
    /** how long one may wait (ms) before it is closed */
    timeout: number;
  };
  health: HealthConfig;
  /** a member that comes back up ramps to its full weight over this long (ms); 0 = at once */
  slowStart: number;
  /** live traffic of a member that stops serving; null: the default of each service's mode */
  onMemberDown: OnMemberDown | null;
  passiveHealth: PassiveHealthConfig;
  /**
   * how http services speak to the members: http1, h2 (TLS, ALPN h2) or h2c (clear text); the
   * loader always sets it, a config built in code may leave it out (http1)
   */
  memberProtocol?: MemberProtocol;
  /** the HTTP/2 connections to each member (member-protocol h2 or h2c); absent: the defaults */
  http2?: PoolHttp2Config;
}

/** Passive health (runtime/passive-health.ts): ejection of a member that fails real traffic. */
export interface PassiveHealthConfig {
  /** consecutive failures that eject a member; 0 = off */
  failures: number;
  /** base ejection time (ms); the n-th ejection in a row lasts n times as long */
  ejection: number;
  /** the longest an ejection lasts (ms) */
  maxEjection: number;
  /** the most of the pool's members ejected at once, in percent (never all of them) */
  maxEjectedPercent: number;
}

export interface Config {
  global: GlobalConfig;
  /** where the process and access logs go, and the access log's format; absent = stdout, as before */
  logs?: LogsConfig;
  /** the management plane; absent = none */
  admin?: AdminConfig;
  /** an active/standby pair; absent = this node runs alone */
  ha?: HaConfig;
  services: Record<string, ServiceConfig>;
  pools: Record<string, PoolConfig>;
}

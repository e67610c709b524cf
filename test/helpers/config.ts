// Configs for data-plane tests, built as the normalized Config the loader would produce,
// with the documented defaults, so each test states only what it is about.

import type { AlgorithmName, Config, MemberConfig, Mode, PoolConfig, ServiceConfig } from '../../src/config/types.ts';
import { httpServiceConfig } from '../../src/config/http-schema.ts';
import { PASSIVE_DEFAULTS } from '../../src/config/passive-schema.ts';
import { tcpServiceConfig } from '../../src/config/routes-tcp.ts';

export interface MemberSpec {
  port: number;
  id?: string;
  weight?: number;
  maxConnections?: number;
  backup?: boolean;
}

export function member(spec: MemberSpec): MemberConfig {
  return {
    address: { host: '127.0.0.1', port: spec.port, ip: '127.0.0.1' },
    id: spec.id ?? `127.0.0.1:${spec.port}`,
    weight: spec.weight ?? 1,
    maxConnections: spec.maxConnections ?? 0,
    backup: spec.backup ?? false,
    health: null,
  };
}

export function pool(algorithm: AlgorithmName, members: MemberSpec[], queue: Partial<PoolConfig['queue']> = {}, extra: Partial<PoolConfig> = {}): PoolConfig {
  return {
    algorithm,
    members: members.map(member),
    queue: { max: 1000, timeout: 5_000, ...queue },
    health: { require: { kind: 'all' }, monitors: [], agent: null, initialState: 'checking' },
    slowStart: 0,
    onMemberDown: null,
    passiveHealth: PASSIVE_DEFAULTS,
    ...extra,
  };
}

export function service(mode: Mode, poolName: string, extra: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    listen: { host: '127.0.0.1', port: 0, ip: '127.0.0.1' },
    mode,
    pool: poolName,
    timeouts: { connect: 2_000, idle: mode === 'udp' ? 30_000 : 300_000 },
    retries: 3,
    proxyProtocol: null,
    acceptProxy: false,
    maxFlows: 65_536,
    balancePer: 'flow',
    maxConnectionsPerClient: 0,
    persistence: null,
    access: null,
    kernel: null,
    http: httpServiceConfig({ mode, timeouts: {} }),
    tcp: tcpServiceConfig({ mode }),
    ...extra,
  };
}

/** One service `svc` in front of one pool `p`. */
export function single(mode: Mode, p: PoolConfig, extra: Partial<ServiceConfig> = {}): Config {
  return {
    global: { shutdownGrace: 1_000, logLevel: 'silent' },
    services: { svc: service(mode, 'p', extra) },
    pools: { p },
  };
}

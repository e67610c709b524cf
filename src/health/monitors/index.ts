// A monitor by its type: one line per type, and the type checker refuses a type left out.

import type { MonitorConfig } from '../../config/health-types.ts';
import type { Monitor } from '../monitor.ts';
import { createDnsMonitor } from './dns.ts';
import { createGrpcMonitor } from './grpc.ts';
import { createHttpMonitor } from './http.ts';
import { createIcmpMonitor } from './icmp.ts';
import { createRadiusMonitor } from './radius.ts';
import { createScriptMonitor } from './script.ts';
import { createSipMonitor } from './sip.ts';
import { createTcpMonitor } from './tcp.ts';
import { createUdpMonitor } from './udp.ts';

type Factories = { [T in MonitorConfig['type']]: (config: Extract<MonitorConfig, { type: T }>) => Monitor };

const FACTORIES: Factories = {
  icmp: createIcmpMonitor,
  tcp: createTcpMonitor,
  udp: createUdpMonitor,
  http: createHttpMonitor,
  https: createHttpMonitor,
  grpc: createGrpcMonitor,
  sip: createSipMonitor,
  radius: createRadiusMonitor,
  dns: createDnsMonitor,
  script: createScriptMonitor,
};

/** Throws when the monitor cannot work here (no raw socket for icmp, unreadable TLS files). */
export function createMonitor(config: MonitorConfig): Monitor {
  // (the map pairs each type with its factory; TypeScript cannot follow that through an index)
  return (FACTORIES[config.type] as (config: MonitorConfig) => Monitor)(config);
}

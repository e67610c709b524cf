// A monitor by its type.

import type { MonitorConfig } from '../../config/health-types.ts';
import type { Monitor } from '../monitor.ts';
import { createDnsMonitor } from './dns.ts';
import { createHttpMonitor } from './http.ts';
import { createIcmpMonitor } from './icmp.ts';
import { createRadiusMonitor } from './radius.ts';
import { createScriptMonitor } from './script.ts';
import { createSipMonitor } from './sip.ts';
import { createTcpMonitor } from './tcp.ts';
import { createUdpMonitor } from './udp.ts';

/** Throws when the monitor cannot work here (no raw socket for icmp, unreadable TLS files). */
export function createMonitor(config: MonitorConfig): Monitor {
  switch (config.type) {
    case 'icmp':
      return createIcmpMonitor(config);
    case 'tcp':
      return createTcpMonitor(config);
    case 'udp':
      return createUdpMonitor(config);
    case 'http':
    case 'https':
      return createHttpMonitor(config);
    case 'sip':
      return createSipMonitor(config);
    case 'radius':
      return createRadiusMonitor(config);
    case 'dns':
      return createDnsMonitor(config);
    case 'script':
      return createScriptMonitor(config);
  }
}

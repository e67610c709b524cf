// What the renderer reads: a plain snapshot of the kernel services, their members and states,
// taken from the runtime (plane.ts) or straight from a config (validation). Keeping render.ts
// on plain data makes it pure and testable without a runtime or a kernel.

import type { KernelMethod } from './algorithms.ts';

export type IpFamily = 'ip' | 'ip6';
export type KernelProtocol = 'tcp' | 'udp';

export interface KernelMemberView {
  /** stable for the life of the process: names the member's chain and sets */
  number: number;
  id: string;
  ip: string;
  port: number;
  /** effective weight */
  weight: number;
  backup: boolean;
  /** takes new connections */
  usable: boolean;
  /** keeps its connections and persistent clients (healthy, not disabled; drained is fine) */
  serves: boolean;
}

export interface KernelPersistenceView {
  /** prefix length of the client key, for the service's family */
  prefix: number;
  /** ms */
  timeout: number;
  /** most keys per member */
  size: number;
}

export interface KernelServiceView {
  name: string;
  mode: 'nat' | 'dsr';
  protocol: KernelProtocol;
  family: IpFamily;
  vip: string;
  port: number;
  method: KernelMethod;
  members: KernelMemberView[];
  persistence: KernelPersistenceView | null;
  /** nat: masquerade toward members (full-NAT) */
  sourceNat: boolean;
  /** dsr: the interface on the members' segment */
  interface: string | null;
  /** ms: conntrack's idle timeout (nat), the flow table's (dsr) */
  idle: number;
  /** dsr: most flows remembered per member */
  flowSize: number;
  flushOnDown: boolean;
  /** false while the service is on its way out: its live connections go on, new ones are refused */
  accepting: boolean;
}

// The normalized keys of the kernel forwarding modes, `nat` and `dsr` (see kernel-schema.ts).

export type KernelProtocol = 'tcp' | 'udp';

export interface KernelServiceConfig {
  /** the transport the kernel forwards for this VIP:port */
  protocol: KernelProtocol;
  /** dsr: the interface on the members' layer-2 segment (packets arrive and leave there); null for nat */
  interface: string | null;
  /** nat: masquerade toward members (full-NAT), so their replies come back without a route via the balancer */
  sourceNat: boolean;
  /** drop a member's live connections when it stops serving (nat: conntrack entries; dsr: flows) */
  flushOnDown: boolean;
}

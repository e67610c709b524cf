// The `ha` section once parsed: an active/standby pair (keepalived runs VRRP underneath), the
// replication link between the nodes, and kernel connection sync for nat and dsr services.

import type { Address } from './address.ts';

export interface HaConfig {
  /**
   * furiwake runs VRRP (keepalived) and moves the VIPs: `interface` and `router-id` are given.
   * false: the section only replicates state (`sync`) between nodes whose addresses something
   * else moves (an external VRRP, routing); interface is '' and routerId 0 then.
   */
  vrrp: boolean;
  /** the network interface VRRP runs on and the VIPs are added to */
  interface: string;
  /** VRRP virtual router id, 1..255: the same on every node of the pair */
  routerId: number;
  /** 1..254, the higher wins the election */
  priority: number;
  /** advertisement interval, ms; VRRPv3 counts it in centiseconds */
  advert: number;
  /** a node of higher priority that comes back takes the VIPs again */
  preempt: boolean;
  /** unicast VRRP peers (IP literals); empty: multicast */
  peers: string[];
  /** the VIPs (IP literals, IPv4 or IPv6); null: every non-wildcard service listen address */
  vips: string[] | null;
  /** replication of stick tables and operator state; null: nothing is replicated */
  sync: HaSyncConfig | null;
  /** kernel connection sync (conntrackd) when nat or dsr services run; null: off */
  conntrackSync: ConntrackSyncConfig | null;
}

export interface HaSyncConfig {
  /** where this node accepts its peers' links */
  listen: Address;
  /** where this node connects to its peers */
  peers: Address[];
  /** shared secret that authenticates both ends of a link */
  key: string;
  /** TLS on the link; null: plain TCP, authenticated by the key */
  tls: { cert: string; key: string; ca: string } | null;
}

export interface ConntrackSyncConfig {
  /** the UDP port conntrackd sends and receives its updates on */
  port: number;
}

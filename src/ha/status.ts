// What a node of an active/standby pair says about itself: the shape `GET /api/v1/ha` answers,
// the dashboard draws and `furiwake ctl ha` prints. The supervisor of keepalived (VRRP) fills the
// `vrrp` part, the replication link the `sync` part, conntrackd the `conntrack` part.

/** keepalived's words for the state of a VRRP instance, lower-cased; `stopped`: keepalived is not running */
export type HaRole = 'init' | 'backup' | 'master' | 'fault' | 'stopped';

export interface HaTransition {
  from: HaRole;
  to: HaRole;
  /** ms since epoch */
  at: number;
  /** why, in the reader's terms ("peer stopped advertising", "handed over by an operator", ...) */
  reason: string;
}

export interface VrrpStatus {
  role: HaRole;
  interface: string;
  routerId: number;
  /** as configured */
  priority: number;
  /** the VIPs this pair moves between its nodes */
  vips: string[];
  /** true while an operator has handed the VIPs to the peer (ctl ha --handover) */
  handedOver: boolean;
  /** why this node tells keepalived it is unfit (no usable member, data plane not answering); null when fit */
  unfit: string | null;
  keepalived: { running: boolean; pid: number | null; restarts: number };
  /** the last transitions, newest last (bounded) */
  transitions: HaTransition[];
}

export interface SyncPeerStatus {
  peer: string;
  connected: boolean;
  /** ms since epoch of the last full resynchronisation; null: never */
  lastSync: number | null;
  sent: number;
  received: number;
  authFailures: number;
}

/** the last change of one member field set by an operator on any node (last writer wins) */
export interface OperatorChangeView {
  pool: string;
  member: string;
  field: 'state' | 'weight' | 'maxConnections';
  /** state: enabled, drain or disabled; weight and maxConnections: numbers */
  value: number | string;
  /** ms since epoch when the operator set it */
  at: number;
  /** the node it was set on (its sync address) */
  by: string;
}

export interface ConntrackSyncStatus {
  running: boolean;
  pid: number | null;
  restarts: number;
}

export interface HaStatus {
  /** null when this node does not run VRRP (an ha section with only a sync link) */
  vrrp: VrrpStatus | null;
  /** null when ha.sync is not configured */
  sync: { peers: SyncPeerStatus[]; operator: OperatorChangeView[] } | null;
  /** null when no nat or dsr service runs or conntrack-sync is off */
  conntrack: ConntrackSyncStatus | null;
}

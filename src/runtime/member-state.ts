// A member's states and what changes them, as events (events.ts) and views (admin/) report
// them. Apart from events.ts so that member.ts, which events.ts names, need not import it back.

export type Health = 'checking' | 'up' | 'down';
export type AdminState = 'enabled' | 'drain' | 'disabled';

/**
 * An agent's word (HAProxy agent-check): `ready`/`up` let the member take new connections,
 * `drain` keeps it for existing and persistent clients only, `maint`/`down` take it out.
 */
export type AgentState = 'ready' | 'up' | 'drain' | 'maint' | 'down';

export interface AgentView {
  state: AgentState;
  /** share of the configured weight, 0..100+ */
  percent: number;
  /** limit the agent set (maxconn:N), null = unchanged */
  maxConnections: number | null;
  /** the agent's reply as received (trimmed), or why it could not be asked */
  message: string;
  /** ms since epoch of the last reply */
  at: number;
}

/** One monitor's last result on one member. */
export interface CheckView {
  type: string;
  /** the monitor's own verdict after rise/fall */
  state: Health;
  /** the last check passed */
  up: boolean;
  reason: string;
  /** duration of the last check in ms */
  latency: number;
  /** ms since epoch of the last check */
  at: number;
  /** ms since epoch of the monitor's last state change */
  since: number;
}

export type MemberChange =
  | { kind: 'health'; from: Health; to: Health; reason: string }
  | { kind: 'admin'; from: AdminState; to: AdminState }
  | { kind: 'agent'; from: AgentState | null; to: AgentState; message: string }
  | { kind: 'weight'; from: number; to: number }
  | { kind: 'max-connections'; from: number; to: number }
  /** passive health ejected it (to: true) or let it back; from = to = false: the pool's cap kept it in */
  | { kind: 'ejection'; from: boolean; to: boolean; reason: string };

// What the control side (main thread) and the data side (worker threads) say to each other.
// Structured clone carries them; the counters that decide are not here: they are in shared memory.

import type { Config } from '../config/types.ts';
import type { Member } from '../runtime/member.ts';
import type { AdminState, AgentView, Health } from '../runtime/member-state.ts';
import type { AdminAnswer, AdminAsk } from './admin-asks.ts';

/**
 * A member's state as the control side decides it (health checks, agent, operators, slow start):
 * a worker sets its own copy of the member to exactly this.
 */
export interface MemberMirror {
  pool: string;
  id: string;
  health: Health;
  healthReason: string;
  admin: AdminState;
  agent: AgentView | null;
  configWeight: number;
  ramp: number;
  maxConnections: number;
}

/** The config a worker runs: only the services it serves, with the ports the main thread bound. */
export interface ApplyMessage {
  type: 'apply';
  /** answered by an AppliedMessage with the same number */
  seq: number;
  config: Config;
  /** [pool + '\0' + member id, slot] for every member */
  slots: [string, number][];
  states: MemberMirror[];
  /** this worker's share of the process's client connections (Infinity: no limit known) */
  maxConnections: number;
}

export type ToWorker =
  | ApplyMessage
  | { type: 'member'; state: MemberMirror }
  | { type: 'stop'; grace: number }
  | { type: 'stats'; seq: number }
  /** the admin plane reads counters or connections, or ends connections (admin-asks.ts) */
  | { type: 'admin'; seq: number; ask: AdminAsk };

/** What one worker has served: for tests and the log (which worker took which connections). */
export interface WorkerStats {
  index: number;
  /** configs applied since it started */
  applied: number;
  /** connections (http: requests) given to each member, by pool + '/' + member id */
  served: Record<string, number>;
  /** live connections in its table */
  connections: number;
  /** its share of the process's client connections (fd-budget.ts) */
  maxConnections: number;
}

export type FromWorker =
  | { type: 'applied'; seq: number; failures: string[] }
  | { type: 'stats'; seq: number; stats: WorkerStats }
  | { type: 'admin'; seq: number; answer: AdminAnswer }
  | { type: 'stopped' };

/** What a worker is started with (workerData). */
export interface WorkerStart {
  index: number;
  /** the shared active counts (SharedCounters) */
  counters: SharedArrayBuffer;
  /** this worker's own share of each count, read by the main thread if the worker dies */
  own: SharedArrayBuffer;
  /** its connection ids follow this one (connection-ids.ts) */
  firstId: number;
}

/** The key of a member's counter slot, stable across reloads. */
export function slotKey(pool: string, id: string): string {
  return `${pool}\u0000${id}`;
}

export function mirrorOf(member: Member): MemberMirror {
  return {
    pool: member.poolName, id: member.id, health: member.health, healthReason: member.healthReason,
    admin: member.admin, agent: member.agent, configWeight: member.configWeight, ramp: member.ramp,
    maxConnections: member.maxConnections,
  };
}

/** Sets a worker's member to the control side's state, through its setters (so pools hear of it). */
export function applyMirror(member: Member, state: MemberMirror): void {
  member.setHealth(state.health, state.healthReason);
  member.setAdmin(state.admin);
  if (state.agent === null) member.clearAgent();
  else member.setAgent(state.agent);
  member.setWeight(state.configWeight);
  member.setRamp(state.ramp);
  member.setMaxConnections(state.maxConnections);
}

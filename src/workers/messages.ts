// What the control side (main thread) and the data side (worker threads) say to each other.
// Structured clone carries them; the counters that decide are not here: they are in shared memory.

import type { SyncMessage } from '../ha/sync-frame.ts';
import type { ProcessSecrets } from '../runtime/process-secrets.ts';
import type { Member } from '../runtime/member.ts';
import type { AdminState, AgentView, Health } from '../runtime/member-state.ts';
import { RelayedPassive } from './passive-relay.ts';
import type { AdminAnswer, AdminAsk } from './admin-asks.ts';
import type { ConfigDelta } from './config-delta.ts';

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
  /** passive health's ejection, decided from every worker's reports (passive-relay.ts) */
  ejected: boolean;
  ejectedUntil: number;
  ejectionReason: string;
}

/** The config a worker runs: only the services it serves, with the ports the main thread bound. */
export interface ApplyMessage {
  type: 'apply';
  /** answered by an AppliedMessage with the same number */
  seq: number;
  /** what changed since the config the worker holds (all of it, the first time) */
  config: ConfigDelta;
  /** [pool + '\0' + member id, slot] for every member */
  slots: [string, number][];
  /** the states of the members of the pools in `config` (the others' came as they changed) */
  states: MemberMirror[];
  /** [pool name, block] of every pool's shared queue (queue-slots.ts) */
  queues: [string, number][];
  /** this worker's share of the process's client connections (Infinity: no limit known) */
  maxConnections: number;
  /** this worker's share of the flows the file descriptor budget allows each udp service (Infinity: no limit known) */
  udpFlows: number;
  /** [service, buffer of SharedDrops] for every udp service: where the worker counts what it drops */
  udpDrops: [string, SharedArrayBuffer][];
  /** [service, buffer of SharedClientTable] for every tcp and http service that caps its clients (client-tables.ts) */
  clientTables: [string, SharedArrayBuffer][];
  /** [service, table id, buffer of SharedRateTable] of every rate limit (runtime/rate-limits.ts) */
  rateTables: [string, string, SharedArrayBuffer][];
  /** a new worker (one that replaces a worker that died): the stick tables' entries, taken before it listens */
  sticks?: SyncMessage[];
}

export type ToWorker =
  | ApplyMessage
  /** members' states that changed, sent once per turn of the main thread's loop */
  | { type: 'members'; states: MemberMirror[] }
  | { type: 'stop'; grace: number }
  | { type: 'stats'; seq: number }
  /** stick table changes: other workers' entries, an ha peer's, an operator's deletions (stick-relay.ts) */
  | { type: 'sticks'; messages: SyncMessage[] }
  /** the admin plane reads counters or connections, or ends connections (admin-asks.ts) */
  | { type: 'admin'; seq: number; ask: AdminAsk }
  /** reopen the log files (SIGUSR1 came to the process: logrotate renamed them) */
  | { type: 'reopen-logs' };

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
  | { type: 'stopped' }
  /** passive health's reports of one turn of the worker's loop: [slot, code, ...] (passive-relay.ts) */
  | { type: 'passive'; reports: number[] }
  /** what this worker's clients added to its stick tables since its last message, and its lookups (worker-sticks.ts) */
  | { type: 'sticks'; messages: SyncMessage[]; lookups: StickLookups[] }
  | { type: 'admin'; seq: number; answer: AdminAnswer };

/** A worker's lookups in one service's stick table since its last message: [service, hits, misses]. */
export type StickLookups = [service: string, hits: number, misses: number];

/** What a worker is started with (workerData). */
export interface WorkerStart {
  index: number;
  /** the shared active counts (SharedCounters) */
  counters: SharedArrayBuffer;
  /** this worker's own share of each count, read by the main thread if the worker dies */
  own: SharedArrayBuffer;
  /** passive health: which members' runs of failures are open in the main thread (PassiveIntake) */
  passive: SharedArrayBuffer;
  /** the pools' shared queues (queue-slots.ts), and how many threads take part in them */
  queues: SharedArrayBuffer;
  queueThreads: number;
  /** the process's secrets (cookie signing, TLS ticket keys), the same in every thread */
  secrets: ProcessSecrets;
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
    ejected: member.passive.ejected, ejectedUntil: member.passive.ejectedUntil, ejectionReason: member.passive.reason,
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
  if (member.passive instanceof RelayedPassive) member.passive.follow(state);
}

// File descriptors as a budget. Every client connection, member connection and udp flow holds
// one; when they run out, accept fails for every service and the admin API alike. So at start
// the soft limit is raised to the hard one (Node 24 already does so as it starts on Linux; where
// it did not, prlimit does it on our pid, as Node has no setrlimit), a reserve is kept for what must always work (listeners, the admin plane, health checks,
// the process's own files), and udp flows get a share of the rest: a udp flood fills its share,
// never the descriptors a tcp or http client needs. What tcp and http connections hold is counted
// live (ResourceCounts.roomFor): two per proxied connection, one per idle HTTP/1.1 member connection
// kept and one per HTTP/2 session to an h2 or h2c member (however many requests it carries); an
// HTTP/2 client connection, and a client connection of a pool that speaks HTTP/2 to its members,
// holds its own, and one more for each HTTP/1.1 member connection its requests hold now (an
// HTTP/2 client's streams may hold many: one that needs another past the budget gets a 503).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/types.ts';

/** The process's RLIMIT_NOFILE; Infinity for unlimited. */
export interface FileLimit {
  soft: number;
  hard: number;
}

/** What the process itself keeps open: stdio, the event loop's own handles, the log, DNS, files read on reload. */
export const BASE_RESERVE = 64;
/** The admin plane: its listener, its clients, an event stream or two. */
export const ADMIN_RESERVE = 64;

/** Reads the limit from /proc/self/limits' "Max open files" line; null when it is not there. */
export function parseFileLimit(text: string): FileLimit | null {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (m === null) return null;
  const value = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: value(m[1]), hard: value(m[2]) };
}

export function readFileLimit(): FileLimit | null {
  try {
    return parseFileLimit(readFileSync('/proc/self/limits', 'latin1'));
  } catch {
    return null; // not Linux: no budget is derived
  }
}

export interface RaiseResult {
  before: FileLimit | null;
  after: FileLimit | null;
  /** why the soft limit could not be raised; null when it was, or already was at the hard one */
  error: string | null;
}

/** Raises the soft descriptor limit to the hard one, once, at start (synchronously: before any socket). */
export function raiseFileLimit(): RaiseResult {
  const before = readFileLimit();
  if (before === null) return { before, after: null, error: 'the limits of this process cannot be read (/proc/self/limits)' };
  if (before.soft >= before.hard) return { before, after: before, error: null };
  const hard = before.hard === Infinity ? 'unlimited' : String(before.hard);
  const run = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`], { encoding: 'utf8', timeout: 5_000 });
  const after = readFileLimit();
  if (after !== null && after.soft >= before.hard) return { before, after, error: null };
  const why = run.error?.message ?? (run.stderr.trim() || `prlimit exited with ${run.status}`);
  return { before, after, error: why };
}

/** How the descriptors of a limit are shared out for a config. */
export interface FdBudget {
  /** the soft limit the budget comes from; Infinity: no bound derived */
  limit: number;
  /** kept for listeners, the admin plane, health checks and the process itself */
  reserve: number;
  /** the most flows each udp service may hold (before its own max-flows) */
  flowsPerUdpService: number;
  /** about how many proxied tcp/http connections fit (each holds two: client and member) */
  connections: number;
}

/** What one worker thread keeps open besides its listeners: its event loop's own handles, its ports to the main thread. */
export const WORKER_RESERVE = 8;

/**
 * Descriptors a config keeps busy whatever the traffic. `workers`: the worker threads running
 * (each has its own loop and binds every service it serves again).
 */
export function reserveFor(config: Config, workers = 1): number {
  let reserve = BASE_RESERVE + Object.keys(config.services).length;
  if (workers > 1) {
    const served = Object.values(config.services).filter((s) => s.mode === 'tcp' || s.mode === 'http' || s.mode === 'udp').length;
    reserve += workers * (WORKER_RESERVE + served);
  }
  if (config.admin !== undefined) reserve += ADMIN_RESERVE;
  for (const pool of Object.values(config.pools)) {
    const monitors = pool.health.monitors.length + (pool.health.agent === null ? 0 : 1);
    for (const member of pool.members) reserve += member.health?.monitors?.length ?? monitors;
  }
  return reserve;
}

/**
 * The share-out: with tcp or http services beside them, udp services together get half of what
 * is left after the reserve (split evenly); alone, all of it. tcp and http connections have the rest.
 */
export function fdBudget(limit: number, config: Config, workers = 1): FdBudget {
  const reserve = reserveFor(config, workers);
  if (limit === Infinity) return { limit, reserve, flowsPerUdpService: Infinity, connections: Infinity };
  const modes = Object.values(config.services).map((s) => s.mode);
  const udp = modes.filter((m) => m === 'udp').length;
  const streams = modes.some((m) => m === 'tcp' || m === 'http');
  const available = Math.max(0, limit - reserve);
  const udpShare = udp === 0 ? 0 : streams ? Math.floor(available / 2) : available;
  return {
    limit,
    reserve,
    flowsPerUdpService: udp === 0 ? 0 : Math.max(1, Math.floor(udpShare / udp)),
    connections: Math.floor((available - udpShare) / 2),
  };
}

/** The flows a udp service may hold: its max-flows, or less when the budget says so. */
export function effectiveMaxFlows(configured: number, budget: FdBudget | null): number {
  return budget === null ? configured : Math.min(configured, budget.flowsPerUdpService);
}

/** One line per udp service whose max-flows the budget clips. */
export function clippedFlows(config: Config, budget: FdBudget): string[] {
  const lines: string[] = [];
  for (const [name, s] of Object.entries(config.services)) {
    if (s.mode !== 'udp' || s.maxFlows <= budget.flowsPerUdpService) continue;
    lines.push(`service ${name}: max-flows ${s.maxFlows} is more than the file descriptor budget allows; at most ${budget.flowsPerUdpService} flows (limit ${budget.limit} descriptors, ${budget.reserve} reserved)`);
  }
  return lines;
}

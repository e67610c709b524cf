// Bytes per member including the connections still open: a member's own counters only grow
// when a connection ends, so a long download would otherwise show nothing until it is over.
// With worker threads, their open connections count too, as of their last report.

import type { Member } from '../runtime/member.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { DataThreads } from './threads.ts';

export interface Bytes {
  in: number;
  out: number;
}

/** Live http client connections of a service by the HTTP version they speak. */
export interface HttpClients {
  http1: number;
  http2: number;
}

export interface LiveTraffic {
  /** bytes moved by the live connections, by member */
  bytes: Map<Member, Bytes>;
  /** live connections by service */
  services: Map<string, number>;
  /** live http client connections by service and HTTP version (services without any are absent) */
  httpClients: Map<string, HttpClients>;
  /** clients waiting in the worker threads' queues, by pool (the runtime's own pools count theirs) */
  queued: ReadonlyMap<string, number>;
  /** live connections in the worker threads' tables */
  threads: number;
}

const NONE: ReadonlyMap<string, number> = new Map();

/** One pass over the connection table, plus the worker threads' figures when there are some. */
export function liveTraffic(runtime: Runtime, threads: DataThreads | null = null): LiveTraffic {
  const live = new Map<Member, Bytes>();
  const services = new Map<string, number>();
  const httpClients = new Map<string, HttpClients>();
  for (const entry of runtime.connections.list()) {
    services.set(entry.service, (services.get(entry.service) ?? 0) + 1);
    if (entry.http !== undefined) addClients(httpClients, entry.service, entry.http === '2' ? 0 : 1, entry.http === '2' ? 1 : 0);
    if (entry.member === null) continue;
    add(live, entry.member, entry.bytesIn, entry.bytesOut);
  }
  if (threads === null) return { bytes: live, services, httpClients, queued: NONE, threads: 0 };
  const theirs = threads.live();
  for (const [member, b] of theirs.bytes) add(live, member, b.in, b.out);
  for (const [service, n] of theirs.services) services.set(service, (services.get(service) ?? 0) + n);
  for (const [service, c] of theirs.httpClients) addClients(httpClients, service, c.http1, c.http2);
  return { bytes: live, services, httpClients, queued: theirs.queued, threads: theirs.connections };
}

export function addClients(to: Map<string, HttpClients>, service: string, http1: number, http2: number): void {
  const c = to.get(service);
  if (c === undefined) to.set(service, { http1, http2 });
  else {
    c.http1 += http1;
    c.http2 += http2;
  }
}

function add(live: Map<Member, Bytes>, member: Member, bytesIn: number, bytesOut: number): void {
  const b = live.get(member);
  if (b === undefined) live.set(member, { in: bytesIn, out: bytesOut });
  else {
    b.in += bytesIn;
    b.out += bytesOut;
  }
}

/** Every byte a member has moved: those of ended connections plus those of live ones. */
export function memberBytes(member: Member, live: ReadonlyMap<Member, Bytes>): Bytes {
  const b = live.get(member);
  return { in: member.bytesIn + (b?.in ?? 0), out: member.bytesOut + (b?.out ?? 0) };
}

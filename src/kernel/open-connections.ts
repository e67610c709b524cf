// Counting the open connections of kernel services, for max-connections (limits.ts) and for the
// services on their way out (drain.ts): one conntrack listing for all nat services, read line by
// line into one reused record, and one listing of dsr's flow sets. The kernel walks its whole table for each
// listing, whatever the filter (the filter only shortens the answer), so a listing per service
// cost a walk per service: with 100k connections over 10 services, 4.1 s of CPU per count, one
// listing for all 0.9 s (bench/kernel-limits.ts).

import type { Member } from '../runtime/member.ts';
import type { Service } from '../runtime/service.ts';
import { listing, scanConntrack, type ListingFilter } from './conntrack.ts';
import { KernelPassive } from './passive.ts';
import { isOpen } from './reading.ts';
import { flows } from './render.ts';
import { listSets } from './set-elements.ts';
import type { KernelTools } from './requirements.ts';
import type { KernelServiceView } from './view.ts';

export interface OpenConnections {
  /** per member, over every service it is in */
  members: Map<Member, number>;
  /** per service name; a member that left the pool still counts for its service */
  services: Map<string, number>;
}

/**
 * `passive`, when given, sees every line (open or not) of the services it watches (passive.ts),
 * from the same listing.
 */
export async function openConnections(tools: KernelTools, services: readonly [KernelServiceView, Service][], passive: KernelPassive | null = null): Promise<OpenConnections> {
  const open: OpenConnections = { members: new Map(), services: new Map() };
  const add = (name: string, member: Member | undefined, n: number): void => {
    open.services.set(name, (open.services.get(name) ?? 0) + n);
    if (member !== undefined) open.members.set(member, (open.members.get(member) ?? 0) + n);
  };
  // dsr cannot tell an open flow from an ended one: each flow counts until it is idle
  const dsr = services.filter(([view]) => view.mode === 'dsr');
  const sets = dsr.length === 0 ? null : await listSets(tools.nft, 'netdev');
  for (const [view, service] of dsr) {
    for (const m of view.members) {
      const n = sets?.get(flows(view, m))?.length ?? 0;
      if (n === 0) continue;
      add(view.name, service.pool.members.find((x) => x.id === m.id), n);
    }
  }
  const nat = services.filter(([view]) => view.mode === 'nat');
  if (nat.length === 0 || tools.conntrack === null) return open;
  const { byAddress, targets } = natIndex(nat);
  const watched = new Set(passive === null ? [] : nat.filter(([view, service]) => KernelPassive.watches(view, service)).map(([view]) => view.name));
  const text = await listing(tools.conntrack, { ...narrowest(nat.map(([view]) => view)), ids: watched.size > 0 });
  scanConntrack(text, (line) => {
    const o = line.original;
    const r = line.reply;
    const address = `${line.protocol} ${o.dst} ${o.dport}`;
    const view = byAddress.get(address);
    // not translated: it found no member (and was rejected)
    if (view === undefined || (r.src === view.vip && r.sport === view.port)) return;
    const member = targets.get(`${address} ${r.src} ${r.sport}`);
    if (member !== undefined && watched.has(view.name)) passive!.see(line, member);
    if (isOpen(line.protocol, line.state)) add(view.name, member, 1);
  });
  return open;
}

/**
 * How a connection's line (client -> VIP:port, replied by member:port) finds its service,
 * `protocol VIP port`, and its member, `protocol VIP port member-ip member-port`.
 */
function natIndex(services: readonly [KernelServiceView, Service][]): { byAddress: Map<string, KernelServiceView>; targets: Map<string, Member> } {
  const byAddress = new Map<string, KernelServiceView>();
  const targets = new Map<string, Member>();
  for (const [view, service] of services) {
    const address = `${view.protocol} ${view.vip} ${view.port}`;
    byAddress.set(address, view);
    for (const m of view.members) {
      const member = service.pool.members.find((x) => x.id === m.id);
      if (member !== undefined) targets.set(`${address} ${m.ip} ${m.port}`, member);
    }
  }
  return { byAddress, targets };
}

/** The narrowest one listing that holds the connections of all these services (a shorter answer to read). */
function narrowest(views: readonly KernelServiceView[]): ListingFilter {
  const one = <T>(values: T[]): T | undefined => (values.every((v) => v === values[0]) ? values[0] : undefined);
  const family = one(views.map((v) => v.family));
  return {
    family: family === undefined ? undefined : family === 'ip' ? 'ipv4' : 'ipv6',
    protocol: one(views.map((v) => v.protocol)),
    vip: one(views.map((v) => v.vip)),
    port: one(views.map((v) => v.port)),
  };
}

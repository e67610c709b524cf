// Reading what the kernel holds for a service, as the runtime shows it (runtime/kernel-tables.ts):
// nat connections from conntrack, dsr flows and persistence entries from our nftables sets.

import type { KernelConnection, StickyEntry } from '../runtime/kernel-tables.ts';
import type { Member } from '../runtime/member.ts';
import type { Service } from '../runtime/service.ts';
import { listConnections } from './conntrack.ts';
import type { FlowIds } from './dsr-flows.ts';
import { flows, sticky, type NftFamily } from './render.ts';
import { listSet, type SetElement } from './set-elements.ts';
import type { KernelServiceView } from './view.ts';

/** tcp states of a connection that is still open; the rest (TIME_WAIT, CLOSE) are over. */
const OPEN = new Set(['SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'SYN_SENT2']);

function memberOf(service: Service, id: string): Member | null {
  return service.pool.members.find((m) => m.id === id) ?? null;
}

/** nat: conntrack's connections to the VIP:port that were translated to a member. */
export async function conntrackRows(conntrack: string, view: KernelServiceView, service: Service): Promise<KernelConnection[]> {
  const entries = await listConnections(conntrack, { protocol: view.protocol, vip: view.vip, port: view.port });
  const now = Date.now();
  const rows: KernelConnection[] = [];
  for (const e of entries) {
    // Not translated: it found no member (and was rejected).
    if (e.reply.src === view.vip && e.reply.sport === view.port) continue;
    const target = view.members.find((m) => m.ip === e.reply.src && m.port === e.reply.sport);
    const snat = e.reply.dst !== e.original.src || e.reply.dport !== e.original.sport;
    rows.push({
      id: e.id,
      protocol: view.protocol,
      service: view.name,
      mode: 'nat',
      client: { address: e.original.src, port: e.original.sport },
      vip: { address: e.original.dst, port: e.original.dport },
      member: target === undefined ? null : memberOf(service, target.id),
      target: { address: e.reply.src, port: e.reply.sport },
      local: snat ? { address: e.reply.dst, port: e.reply.dport } : null,
      state: e.state,
      expiresIn: e.timeout * 1000,
      startedAt: e.age === null ? null : now - e.age * 1000,
      bytesIn: e.original.bytes,
      bytesOut: e.reply.bytes,
    });
  }
  return rows;
}

/** Whether a nat connection is still open (a udp one is, until conntrack forgets it). */
export function isOpen(protocol: string, state: string | null): boolean {
  return protocol !== 'tcp' || (state !== null && OPEN.has(state));
}

/** dsr: the flows of each member's flow set, with the ids `ids` gives them. */
export async function flowRows(nft: string, view: KernelServiceView, service: Service, ids: FlowIds): Promise<KernelConnection[]> {
  const rows: Omit<KernelConnection, 'id'>[] = [];
  for (const m of view.members) {
    const member = memberOf(service, m.id);
    for (const e of await listSet(nft, 'netdev', flows(view, m))) {
      const [address, port] = e.key;
      rows.push({
        protocol: view.protocol,
        service: view.name,
        mode: 'dsr',
        client: { address: String(address), port: Number(port) },
        vip: { address: view.vip, port: view.port },
        member,
        target: { address: m.ip, port: m.port },
        local: null,
        state: 'forwarding',
        expiresIn: e.expires * 1000,
        startedAt: null,
        bytesIn: null,
        bytesOut: null,
      });
    }
  }
  const assigned = ids.assign(view.name, rows.map((r) => r.client));
  return rows.map((r, i) => ({ id: assigned[i], ...r }));
}

/** The persistence entries of every member's set: client network -> member. */
export async function stickyEntries(nft: string, view: KernelServiceView, service: Service): Promise<StickyEntry[]> {
  if (view.persistence === null) return [];
  const family = stickyFamily(view);
  const sets = new Map<string, SetElement[]>();
  for (const m of view.members) sets.set(sticky(view, m), await listSet(nft, family, sticky(view, m)));
  return stickyFromSets(sets, view, service);
}

/** nat's sets are in the inet table, dsr's in the netdev one. */
export function stickyFamily(view: KernelServiceView): NftFamily {
  return view.mode === 'nat' ? 'inet' : 'netdev';
}

/** The persistence entries of a service from a listing of its table's sets (listSets). */
export function stickyFromSets(sets: ReadonlyMap<string, readonly SetElement[]>, view: KernelServiceView, service: Service): StickyEntry[] {
  if (view.persistence === null) return [];
  const whole = view.persistence.prefix >= (view.family === 'ip' ? 32 : 128);
  const entries: StickyEntry[] = [];
  for (const m of view.members) {
    const member = memberOf(service, m.id);
    for (const e of sets.get(sticky(view, m)) ?? []) {
      entries.push({ service: view.name, key: whole ? String(e.key[0]) : `${e.key[0]}/${view.persistence.prefix}`, member, expiresIn: e.expires * 1000 });
    }
  }
  return entries;
}

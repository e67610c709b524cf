// The nftables ruleset of every kernel service, as data: tables of named objects (sets, ct
// timeouts) and chains of rule lines. Pure: a snapshot in (view.ts), a ruleset out; applying it
// is transaction.ts's job.
//
// `table inet furiwake` holds nat: a `dnat` chain at the nat prerouting hook (and `dnat.out` for
// clients on this host) sends the first packet of each connection to its service's chain, which
// picks a member chain (persistence first, then the algorithm); the member chain translates the
// destination and conntrack keeps the rest of the connection there. `table netdev furiwake`
// holds dsr: an ingress chain on the members' interface forwards each packet to a member with
// only the MAC addresses rewritten (`fwd ... to ADDRESS device`), keeping a per-member flow set
// so every packet of a connection reaches the same member. The inet table also rejects what is
// addressed to a VIP:port and was not taken (no usable member), as a closed port would be.

import { hashString } from '../balance/hash.ts';
import { hostPort } from '../config/address.ts';
import { selectionSlots } from './slots.ts';
import type { IpFamily, KernelMemberView, KernelServiceView } from './view.ts';

export const TABLE = 'furiwake';
export type NftFamily = 'inet' | 'netdev';

export interface NftObject {
  kind: 'set' | 'ct timeout';
  name: string;
  /** statements inside the braces; equal bodies mean the same object */
  body: string[];
}

export interface NftChain {
  name: string;
  /** `type ... hook ... priority ...; policy accept;` for a base chain; null for a regular one */
  base: string | null;
  rules: string[];
}

export interface NftTable {
  family: NftFamily;
  objects: NftObject[];
  chains: NftChain[];
}

export interface Ruleset {
  tables: NftTable[];
  /** sets whose entries must go: the members they point to no longer serve */
  flush: { family: NftFamily; set: string }[];
}

export const BASE_CHAINS = {
  raw: 'type filter hook prerouting priority raw; policy accept;',
  rawOut: 'type filter hook output priority raw; policy accept;',
  dnat: 'type nat hook prerouting priority dstnat; policy accept;',
  dnatOut: 'type nat hook output priority -100; policy accept;',
  snat: 'type nat hook postrouting priority srcnat; policy accept;',
  input: 'type filter hook input priority filter; policy accept;',
  errors: 'type filter hook prerouting priority filter; policy accept;',
} as const;

/**
 * The bit of the conntrack mark set on a udp nat connection that got an ICMP destination
 * unreachable back (the member's port is closed, or its host is gone): passive health
 * (passive.ts) reads it in the listing. The rest of the mark is left as it is.
 */
export const ICMP_ERROR_MARK = 0x40000000;

export function render(services: readonly KernelServiceView[]): Ruleset {
  const inet: NftTable = { family: 'inet', objects: [], chains: [] };
  const netdev: NftTable = { family: 'netdev', objects: [], chains: [] };
  const flush: Ruleset['flush'] = [];
  const base = {
    raw: [] as string[], rawOut: [] as string[], dnat: [] as string[], dnatOut: [] as string[],
    snat: [] as string[], input: [] as string[], errors: [] as string[],
  };
  const ingress = new Map<string, string[]>();

  for (const s of services) {
    const match = `${s.family} daddr ${s.vip} ${s.protocol} dport ${s.port}`;
    // Whatever reaches this host still addressed to the VIP:port found no member.
    base.input.push(`${match} ${s.protocol === 'tcp' ? 'reject with tcp reset' : 'reject'}`);
    const table = s.mode === 'nat' ? inet : netdev;
    if (s.persistence !== null) {
      for (const m of s.members) {
        table.objects.push(dynamicSet(sticky(s, m), keyType(s.family), s.persistence.size, s.persistence.timeout));
        if (!m.serves) flush.push({ family: table.family, set: sticky(s, m) });
      }
    }
    if (s.mode === 'nat') {
      inet.objects.push(ctTimeout(s));
      base.raw.push(`${match} ct timeout set "${idleName(s)}"`);
      base.rawOut.push(`${match} ct timeout set "${idleName(s)}"`);
      base.dnat.push(`${match} goto ${serviceChain(s)}`);
      base.dnatOut.push(`${match} goto ${serviceChain(s)}`);
      if (s.protocol === 'udp') {
        // An ICMP error is related to the connection it answers: its ct is that connection's.
        // Only one from the member's side (reply direction) is the member's: a client can forge
        // one about the VIP's datagrams to it, which would eject a member that never replies.
        const icmp = s.family === 'ip' ? 'icmp' : 'icmpv6';
        base.errors.push(`${icmp} type destination-unreachable ct state related ct direction reply ct original ${s.family} daddr ${s.vip} ct protocol udp ct original proto-dst ${s.port} ` +
          `ct mark set ct mark | 0x${ICMP_ERROR_MARK.toString(16)}`);
      }
      if (s.sourceNat) {
        // After DNAT the packet's own addresses are the member's: the original ones say which service.
        base.snat.push(`ct original ${s.family} daddr ${s.vip} meta l4proto ${s.protocol} ct original proto-dst { ${s.port} } masquerade`);
      }
    } else {
      const device = s.interface!;
      if (s.protocol === 'tcp') netdev.objects.push(dynamicSet(ended(s), `${keyType(s.family)} . inet_service`, s.flowSize, ENDED_TIMEOUT));
      for (const m of s.members) {
        netdev.objects.push(dynamicSet(flows(s, m), `${keyType(s.family)} . inet_service`, s.flowSize, s.idle));
        if (s.flushOnDown && !m.serves) flush.push({ family: 'netdev', set: flows(s, m) });
      }
      const rules = ingress.get(device) ?? [];
      rules.push(`${match} goto ${serviceChain(s)}`);
      ingress.set(device, rules);
    }
    table.chains.push({ name: serviceChain(s), base: null, rules: serviceRules(s) });
    for (const m of s.members) table.chains.push({ name: memberChain(s, m), base: null, rules: memberRules(s, m) });
  }

  const hooked: [keyof typeof base, string][] = [
    ['raw', 'raw.pre'], ['rawOut', 'raw.out'], ['dnat', 'nat.pre'], ['dnatOut', 'nat.out'], ['snat', 'nat.post'], ['input', 'filter.in'], ['errors', 'errors.pre'],
  ];
  for (const [key, name] of hooked) {
    if (base[key].length > 0) inet.chains.unshift({ name, base: BASE_CHAINS[key], rules: base[key] });
  }
  for (const [device, rules] of ingress) {
    netdev.chains.unshift({ name: `ingress.${device}`, base: `type filter hook ingress device "${device}" priority filter; policy accept;`, rules });
  }
  return { tables: [inet, netdev].filter((t) => t.chains.length > 0), flush };
}

// ---- names --------------------------------------------------------------------------------
// Service names are letters, digits, "_" and "-", and never contain ".", so "." separates the
// parts of a name unambiguously.

export function serviceChain(s: { name: string }): string {
  return `svc.${s.name}`;
}

export function memberChain(s: { name: string }, m: { number: number }): string {
  return `m.${s.name}.${m.number}`;
}

/** The persistence set of one member: the client networks it keeps. */
export function sticky(s: { name: string }, m: { number: number }): string {
  return `p.${s.name}.${m.number}`;
}

/**
 * dsr, tcp: the client address:ports of flows ended by hand (plane.ts). Their next packets get a
 * reset from the balancer for ENDED_TIMEOUT rather than a pick: another member would answer
 * with its own reset only after a round trip, or the same member would carry the flow on.
 */
export function ended(s: { name: string }): string {
  return `e.${s.name}`;
}

/** ms an ended dsr flow is answered with a reset: long enough for the client to hear one. */
export const ENDED_TIMEOUT = 60_000;

/** The dsr flow set of one member: the client address:ports it serves. */
export function flows(s: { name: string }, m: { number: number }): string {
  return `f.${s.name}.${m.number}`;
}

function idleName(s: { name: string }): string {
  return `idle.${s.name}`;
}

// ---- service and member chains ------------------------------------------------------------

function serviceRules(s: KernelServiceView): string[] {
  const rules: string[] = [];
  if (s.mode === 'dsr') {
    // A flow ended by hand is reset here, before anything could pick a member for it.
    if (s.protocol === 'tcp') rules.push(`${s.family} saddr . tcp sport @${ended(s)} reject with tcp reset`);
    // An established flow stays on its member, whatever the algorithm says now.
    const kept = s.flushOnDown ? s.members.filter((m) => m.serves) : s.members;
    for (const m of kept) rules.push(`${s.family} saddr . ${s.protocol} sport @${flows(s, m)} goto ${memberChain(s, m)}`);
  }
  // On its way out, a service keeps only what carries its live connections (conntrack does for nat).
  if (!s.accepting) return rules;
  if (s.persistence !== null) {
    const key = clientKey(s.family, s.persistence.prefix);
    for (const m of s.members.filter((m) => m.serves)) rules.push(`${key} @${sticky(s, m)} goto ${memberChain(s, m)}`);
  }
  const slots = selectionSlots(s.method, s.members);
  if (slots.length > 0) rules.push(selection(s, slots.map((i) => s.members[i])));
  return rules;
}

function selection(s: KernelServiceView, slots: readonly KernelMemberView[]): string {
  if (slots.length === 1) return `goto ${memberChain(s, slots[0])}`;
  const elements: string[] = [];
  for (let start = 0; start < slots.length;) {
    let end = start;
    while (end + 1 < slots.length && slots[end + 1] === slots[start]) end++;
    elements.push(`${start === end ? start : `${start}-${end}`} : goto ${memberChain(s, slots[start])}`);
    start = end + 1;
  }
  const n = slots.length;
  const index = s.method === 'source-hash' || s.method === 'maglev'
    ? `jhash ${s.family} saddr mod ${n} seed 0x${hashString(s.name).toString(16)}`
    : `numgen ${s.method === 'random' ? 'random' : 'inc'} mod ${n}`;
  return `${index} vmap { ${elements.join(', ')} }`;
}

function memberRules(s: KernelServiceView, m: KernelMemberView): string[] {
  const rules: string[] = [];
  if (s.mode === 'dsr') rules.push(`update @${flows(s, m)} { ${s.family} saddr . ${s.protocol} sport }`);
  if (s.persistence !== null) rules.push(`update @${sticky(s, m)} { ${clientKey(s.family, s.persistence.prefix)} }`);
  if (s.mode === 'nat') {
    rules.push(`meta l4proto ${s.protocol} dnat ${s.family} to ${hostPort(m.ip, m.port)}`);
  } else {
    rules.push(`fwd ${s.family} to ${m.ip} device "${s.interface}"`);
  }
  return rules;
}

// ---- objects ------------------------------------------------------------------------------

function dynamicSet(name: string, type: string, size: number, timeout: number): NftObject {
  return { kind: 'set', name, body: [`type ${type}`, `size ${size}`, 'flags dynamic,timeout', `timeout ${seconds(timeout)}s`] };
}

/** conntrack's idle timeout for the service's connections: tcp established, udp replied. */
function ctTimeout(s: KernelServiceView): NftObject {
  const state = s.protocol === 'tcp' ? 'established' : 'replied';
  return {
    kind: 'ct timeout',
    name: idleName(s),
    body: [`protocol ${s.protocol}`, `l3proto ${s.family}`, `policy = { ${state} : ${seconds(s.idle)} }`],
  };
}

function keyType(family: IpFamily): string {
  return family === 'ip' ? 'ipv4_addr' : 'ipv6_addr';
}

/** The client's address masked to the persistence prefix: `ip saddr & 255.255.255.0`. */
export function clientKey(family: IpFamily, prefix: number): string {
  const bits = family === 'ip' ? 32 : 128;
  if (prefix >= bits) return `${family} saddr`;
  return `${family} saddr & ${family === 'ip' ? mask4(prefix) : mask6(prefix)}`;
}

function mask4(prefix: number): string {
  const octets: number[] = [];
  for (let i = 0; i < 4; i++) octets.push(prefix >= 8 * (i + 1) ? 255 : prefix <= 8 * i ? 0 : (0xff << (8 - (prefix - 8 * i))) & 0xff);
  return octets.join('.');
}

function mask6(prefix: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefix - 16 * i));
    groups.push(((0xffff << (16 - bits)) & 0xffff).toString(16));
  }
  // nft reads the full form; "::" shortening is not needed.
  return groups.join(':');
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

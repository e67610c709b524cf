// Persistence entries a peer of the pair replicated (ha.sync), into this node's own sets: one
// `nft -f` script of `add element` lines (adding an entry that is there already sets its timeout
// again). Peer bytes: each entry is checked before it becomes text nft reads — the key is an
// address of the service's family, with the service's prefix; the member is one of the pool's
// members in the kernel; the timeout is bounded by the service's own persistence timeout.

import { isIPv4, isIPv6 } from 'node:net';
import { sticky, TABLE } from './render.ts';
import type { KernelServiceView } from './view.ts';

export interface AdoptedEntry {
  /** the client network as the kernel services show it: `10.1.2.0/24`, or the address for a whole one */
  key: string;
  member: string;
  /** ms left on the peer */
  expiresIn: number;
}

/** The script adding the entries that pass, and how many do (the rest are ignored). */
export function adoptScript(view: KernelServiceView, entries: readonly AdoptedEntry[]): { script: string; taken: number } {
  const persistence = view.persistence;
  if (persistence === null) return { script: '', taken: 0 };
  const whole = persistence.prefix >= (view.family === 'ip' ? 32 : 128);
  const maxSeconds = Math.max(1, Math.ceil(persistence.timeout / 1000));
  const family = view.mode === 'nat' ? 'inet' : 'netdev';
  const byMember = new Map<number, string[]>();
  let taken = 0;
  for (const e of entries) {
    const address = addressOf(e.key, whole ? null : persistence.prefix);
    if (address === null || !(view.family === 'ip' ? isIPv4(address) : isIPv6(address))) continue;
    const member = view.members.find((m) => m.id === e.member);
    // a member that does not serve here keeps no clients (its set is flushed)
    if (member === undefined || !member.serves) continue;
    const seconds = Math.min(maxSeconds, Math.floor(e.expiresIn / 1000));
    if (!(seconds >= 1)) continue;
    let elements = byMember.get(member.number);
    if (elements === undefined) byMember.set(member.number, (elements = []));
    elements.push(`${address} timeout ${seconds}s`);
    taken++;
  }
  const lines: string[] = [];
  for (const [number, elements] of byMember) lines.push(`add element ${family} ${TABLE} ${sticky(view, { number })} { ${elements.join(', ')} }`);
  return { script: lines.length === 0 ? '' : lines.join('\n') + '\n', taken };
}

/**
 * The address of a key `ADDRESS/PREFIX` (`ADDRESS` alone when `prefix` is null), or null. Only the
 * characters of an IPv4 or IPv6 address pass (no zone `%eth0`, no space): what goes on is text nft reads.
 */
function addressOf(key: string, prefix: number | null): string | null {
  const slash = key.indexOf('/');
  if ((slash === -1) !== (prefix === null)) return null;
  if (prefix !== null && key.slice(slash + 1) !== String(prefix)) return null;
  const address = slash === -1 ? key : key.slice(0, slash);
  if (address.length === 0 || address.length > 45) return null;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x3a) || c === 0x2e || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
    if (!ok) return null;
  }
  return address;
}

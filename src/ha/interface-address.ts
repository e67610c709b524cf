// This node's own address on an interface, read from iproute2's JSON (`ip -j addr show dev X`):
// the source of the kernel connection sync updates. Outside bytes: every field is checked, and
// anything unexpected is skipped, never thrown on.

import { BlockList, isIP } from 'node:net';
import { canonicalIP } from '../config/address.ts';

interface Candidate {
  ip: string;
  prefix: number;
}

/**
 * The first global address of `family` in `json` that is not one of `exclude` (the VIPs, which
 * move between the nodes), preferring one on the same network as `peer`; null when there is none
 * or the text is not iproute2's JSON.
 */
export function pickInterfaceAddress(json: string, family: 4 | 6, exclude: readonly string[], peer: string | null): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed)) return null;
  const skip = new Set(exclude.map(canonicalIP));
  const candidates: Candidate[] = [];
  for (const link of parsed) {
    const infos = (link as { addr_info?: unknown } | null)?.addr_info;
    if (!Array.isArray(infos)) continue;
    for (const info of infos) {
      if (info === null || typeof info !== 'object') continue;
      const { local, prefixlen, scope } = info as { local?: unknown; prefixlen?: unknown; scope?: unknown };
      if (typeof local !== 'string' || isIP(local) !== family || scope !== 'global') continue;
      if (typeof prefixlen !== 'number' || !Number.isInteger(prefixlen) || prefixlen < 0 || prefixlen > (family === 4 ? 32 : 128)) continue;
      const ip = canonicalIP(local);
      if (!skip.has(ip)) candidates.push({ ip, prefix: prefixlen });
    }
  }
  if (peer !== null) {
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const near = candidates.find((c) => {
      const network = new BlockList();
      network.addSubnet(c.ip, c.prefix, type);
      return network.check(peer, type);
    });
    if (near !== undefined) return near.ip;
  }
  return candidates[0]?.ip ?? null;
}

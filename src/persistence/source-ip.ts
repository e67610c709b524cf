// source-ip persistence: the key is the client's address masked to a network, so every client
// of one network (or one address, with the full mask) sticks to one member. An IPv4 client seen
// through a dual-stack socket (::ffff:192.0.2.1) is the IPv4 client it is.

import ipaddr from 'ipaddr.js';
import { unmappedIPv4 } from '../ip-text.ts';
import type { SourceIpPersistence } from '../config/persistence-types.ts';
import type { MethodContext, MethodDescriptor, MethodState, Stickable } from './method.ts';
import { Remembered } from './remembered.ts';

export interface SourceMask {
  /** IPv4 prefix length, 0..32 */
  mask: number;
  /** IPv6 prefix length, 0..128 */
  mask6: number;
}

/**
 * The stick-table key of a client address: the address itself under the full mask
 * (`192.0.2.7`, `2001:db8::7`), else its network with the prefix length (`192.0.2.0/24`,
 * `2001:db8::/64`). null for text that is not an IP address.
 */
export function sourceKey(address: string, masks: SourceMask): string | null {
  // Dotted quads (also behind ::ffff:) are most clients: they take a path without ipaddr's
  // objects and arrays, which costs several times as much per new connection.
  const v4 = parseIPv4(unmappedIPv4(address));
  if (v4 !== -1) return ipv4Key(v4, masks.mask);
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // process() turns an IPv4-mapped IPv6 address into the IPv4 address.
    ip = ipaddr.process(address);
  } catch {
    return null;
  }
  const bits = ip.kind() === 'ipv4' ? masks.mask : masks.mask6;
  const width = ip.kind() === 'ipv4' ? 32 : 128;
  if (bits >= width) return ip.toString();
  return `${maskBytes(ip, bits).toString()}/${bits}`;
}

function maskBytes(ip: ipaddr.IPv4 | ipaddr.IPv6, bits: number): ipaddr.IPv4 | ipaddr.IPv6 {
  const bytes = ip.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return ipaddr.fromByteArray(bytes);
}

/** A dotted quad in its canonical form (no leading zeros) as an unsigned 32-bit number; -1 otherwise. */
function parseIPv4(text: string): number {
  if (text.length < 7 || text.length > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 46 : text.charCodeAt(i); // a '.' closes the last part
    if (c === 46) {
      if (digits === 0 || part > 255 || (digits > 1 && text.charCodeAt(i - digits) === 48)) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      parts++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else {
      return -1;
    }
  }
  return parts === 4 ? value : -1;
}

function ipv4Key(value: number, bits: number): string {
  const masked = bits >= 32 ? value : bits === 0 ? 0 : (value & (-1 << (32 - bits))) >>> 0;
  const text = `${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}`;
  return bits >= 32 ? text : `${text}/${bits}`;
}

/** A stick table of client networks: the member the pool chooses for one is remembered. */
class SourceIpState<M extends Stickable> extends Remembered<M> implements MethodState<M> {
  readonly #masks: SourceMask;

  constructor(config: SourceIpPersistence, now: (() => number) | undefined) {
    super(config, now);
    this.#masks = { mask: config.mask, mask6: config.mask6 };
  }

  addressKey(address: string): string | null {
    return sourceKey(address, this.#masks);
  }
}

export const sourceIpMethod: MethodDescriptor<SourceIpPersistence> = {
  name: 'source-ip',
  stateful: true,
  keySource: 'address',
  remembersChoice: true,
  // an nftables set per member, keyed by the client network (nat, dsr)
  kernel: (config, family) => ({ prefix: family === 'ip' ? config.mask : config.mask6, timeout: config.timeout, size: config.maxEntries }),
  create<M extends Stickable>(config: SourceIpPersistence, context: MethodContext): MethodState<M> {
    return new SourceIpState<M>(config, context.now);
  },
};

// Rules that span more than one key, checked once the pieces themselves are well formed:
// a service's pool must exist, two listeners cannot share a port, member ids are unique.

import { isIP, isIPv4 } from 'node:net';
import { canonicalIP, formatAddress, isWildcard } from './address.ts';
import { suggest, type PathIssue } from './issues.ts';
import type { Address, Mode } from './types.ts';

// Each check reads only the fields it needs, so it can run on a whole Config or on the parts of
// a refused file that are well formed (validate.ts).
/** `kernel.protocol`: the transport of a nat or dsr service (tcp when absent) */
export type Listener = { listen: Address; mode: Mode; kernel?: { protocol: 'tcp' | 'udp' } | null };
export type PoolReference = { pool: string };
/** a pool's members by index; undefined where that member is itself malformed */
export type MemberIds = { members: readonly ({ id: string } | undefined)[] };

export function checkPoolReferences(
  services: Readonly<Record<string, PoolReference>>,
  poolNames: readonly string[],
): PathIssue[] {
  const issues: PathIssue[] = [];
  for (const [name, service] of Object.entries(services)) {
    if (poolNames.includes(service.pool)) continue;
    const guess = suggest(service.pool, poolNames);
    const hint = guess !== undefined ? `; did you mean "${guess}"?` : poolNames.length > 0 ? `; pools are: ${poolNames.join(', ')}` : '; there are no pools';
    issues.push({ path: ['services', name, 'pool'], message: `no pool named "${service.pool}"${hint}` });
  }
  return issues;
}

/**
 * One port can be bound once per transport. Each clash is reported on the later service, in
 * file order. Hostnames are compared by name here, and by address once loadConfig has
 * resolved them (then `localhost:80` and `127.0.0.1:80` clash too).
 */
export function checkListeners(services: Readonly<Record<string, Listener>>): PathIssue[] {
  const issues: PathIssue[] = [];
  // only services on one port of one transport can clash: compared within those groups, so a
  // config of thousands of services is checked in linear time, not by every pair
  const seen = new Map<string, [string, Listener][]>();
  for (const [name, service] of Object.entries(services)) {
    // port 0 asks the kernel for a fresh port each time: it never clashes (overlaps())
    if (service.listen.port === 0) continue;
    const group = `${transport(service)} ${service.listen.port}`;
    let earlier = seen.get(group);
    if (earlier === undefined) seen.set(group, (earlier = []));
    const clash = earlier.find(([, other]) => overlaps(other.listen, service.listen));
    if (clash !== undefined) {
      const [otherName, other] = clash;
      issues.push({ path: ['services', name, 'listen'], message: clashMessage(service, otherName, other) });
    }
    earlier.push([name, service]);
  }
  return issues;
}

export function checkMemberIds(pools: Readonly<Record<string, MemberIds>>): PathIssue[] {
  const issues: PathIssue[] = [];
  for (const [name, pool] of Object.entries(pools)) {
    const first = new Map<string, number>();
    pool.members.forEach((member, index) => {
      if (member === undefined) return;
      const earlier = first.get(member.id);
      if (earlier === undefined) {
        first.set(member.id, index);
        return;
      }
      // The runtime keys counters, persistence and reloads by id, so two members cannot share one.
      const message = `duplicate member id "${member.id}", also used by members[${earlier}] (an id defaults to the address; give one an id)`;
      issues.push({ path: ['pools', name, 'members', index, 'id'], message });
    });
  }
  return issues;
}

/**
 * The transport whose ports a service takes. http listens on TCP. A nat or dsr service takes its
 * protocol's packets in the kernel before any socket sees them, so it clashes with a user-space
 * service on the same port as much as with another kernel service.
 */
function transport(service: Listener): 'tcp' | 'udp' {
  if (service.mode === 'udp') return 'udp';
  if (service.mode === 'nat' || service.mode === 'dsr') return service.kernel?.protocol ?? 'tcp';
  return 'tcp';
}

/** How a service is named in a clash: its mode, and the protocol of a kernel one. */
function label(service: Listener): string {
  return service.mode === 'nat' || service.mode === 'dsr' ? `${service.mode} (${transport(service)})` : service.mode;
}

function bindAddress(address: Address): string {
  return canonicalIP(address.ip ?? address.host.toLowerCase());
}

/** Two listen addresses that cannot both be bound (same port, and the same or a wildcard address). */
export function overlaps(a: Address, b: Address): boolean {
  // Port 0 asks the kernel for a fresh port each time, so it never clashes.
  if (a.port !== b.port || a.port === 0) return false;
  const x = bindAddress(a);
  const y = bindAddress(b);
  if (x === y) return true;
  if (isIP(x) === 0 || isIP(y) === 0) return false; // an unresolved hostname: decided after DNS
  // `::` is dual-stack (Node does not set IPV6_V6ONLY), so it takes the port on IPv4 too.
  if (x === '::' || y === '::') return true;
  if (x === '0.0.0.0') return isIPv4(y);
  if (y === '0.0.0.0') return isIPv4(x);
  return false;
}

function clashMessage(service: Listener, otherName: string, other: Listener): string {
  const mine = `${label(service)} ${formatAddress(service.listen)}`;
  // the other service's kind, when it is not the same as this one's
  const kind = label(other) === label(service) ? '' : ` (${label(other)})`;
  const theirs = formatAddress(other.listen);
  if (theirs === formatAddress(service.listen)) return `${mine} is already the listener of services.${otherName}${kind}`;
  const x = bindAddress(other.listen);
  const y = bindAddress(service.listen);
  let reason = `both are ${x}`;
  if (x === '::' || y === '::') reason = ':: takes the port on every IPv6 and IPv4 address';
  else if (isWildcard(x) || isWildcard(y)) reason = '0.0.0.0 takes the port on every IPv4 address';
  return `${mine} overlaps services.${otherName}${kind} on ${theirs} (${reason})`;
}

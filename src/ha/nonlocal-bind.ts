// A backup's listeners are bound to VIPs it does not hold yet, so that the first connection after
// a failover is accepted at once. Node has no IP_FREEBIND socket option: the namespace-wide
// sysctl net.ipv4.ip_nonlocal_bind (and its IPv6 twin) allows binding any address instead.

import { readFileSync, writeFileSync } from 'node:fs';

const SYSCTLS = [
  { name: 'net.ipv4.ip_nonlocal_bind', path: '/proc/sys/net/ipv4/ip_nonlocal_bind', optional: false },
  // absent when IPv6 is off in this namespace: then there is no IPv6 VIP to bind either
  { name: 'net.ipv6.ip_nonlocal_bind', path: '/proc/sys/net/ipv6/ip_nonlocal_bind', optional: true },
] as const;

/** Sets both sysctls to 1; returns the names it changed (none when already set). Throws a clear error when it cannot. */
export function enableNonlocalBind(): string[] {
  const changed: string[] = [];
  for (const s of SYSCTLS) {
    let value: string;
    try {
      value = readFileSync(s.path, 'latin1').trim();
    } catch (err) {
      if (s.optional && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`ha: cannot read ${s.name} (${(err as Error).message})`);
    }
    if (value === '1') continue;
    try {
      writeFileSync(s.path, '1\n');
    } catch (err) {
      throw new Error(`ha: cannot set ${s.name}=1, which lets a backup bind its listeners to the VIPs before it holds them ` +
        `(${(err as Error).message}); run furiwake as root (or with CAP_NET_ADMIN), or set it with sysctl before starting`);
    }
    changed.push(s.name);
  }
  return changed;
}

// Leaves for names and networks that several sections read: a DNS name as SNI carries it (TLS
// certificates, routes), an address or a network in CIDR form (trusted proxies, routes).

import ipaddr from 'ipaddr.js';
import { expected, fail, ok, type Parsed } from './issues.ts';
import { leaf } from './schema-parts.ts';

/** A DNS name as SNI carries it; `*.` may stand for the first label. */
const HOSTNAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
export const serverName = leaf((input): Parsed<string> => {
  const name = typeof input === 'string' ? input.toLowerCase().replace(/\.$/, '') : '';
  return name.length <= 253 && HOSTNAME.test(name) ? ok(name) : fail(expected('a DNS name like www.example.com or *.example.com', input));
});

/** An address or a network in CIDR form; a bare address is its own /32 or /128. */
export const cidr = leaf((input): Parsed<string> => {
  if (typeof input !== 'string') return fail(expected('an address or a network ("10.0.0.0/8")', input));
  try {
    if (input.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(input);
      return ok(`${addr.toString()}/${bits}`);
    }
    const addr = ipaddr.parse(input);
    return ok(`${addr.toString()}/${addr.kind() === 'ipv4' ? 32 : 128}`);
  } catch {
    return fail(expected('an address or a network ("10.0.0.0/8")', input));
  }
});


// The `admin` section: where the management plane (REST API, dashboard, metrics) listens and
// the token that guards it. Without the section there is no management plane at all; with it
// (even empty) the defaults apply.

import { isIP } from 'node:net';
import { z } from 'zod';
import { canonicalIP, formatAddress } from './address.ts';
import { overlaps } from './checks.ts';
import { expected, fail, ok, type Parsed, type PathIssue } from './issues.ts';
import { address, boolean, integer, leaf, section } from './schema-parts.ts';
import type { AdminConfig } from './admin-types.ts';
import type { Address, Mode } from './types.ts';

export const ADMIN_DEFAULTS = { listen: '127.0.0.1:9090', maxConnections: 256, maxConnectionsPerClient: 16 } as const;

/** Shorter tokens are guessable; a token is a password for every member of every pool. */
const MIN_TOKEN = 16;

const token = leaf((input): Parsed<string> => {
  if (typeof input !== 'string') return fail(expected(`a token of at least ${MIN_TOKEN} characters`, input));
  if (input.length < MIN_TOKEN) return fail(`expected a token of at least ${MIN_TOKEN} characters, got one of ${input.length}`);
  if (input.length > 4096 || !/^[\x21-\x7e]+$/.test(input)) return fail('expected a token of printable ASCII characters (no spaces), at most 4096 long');
  return ok(input);
});

/** Loopback by its spelling: the address itself, or `localhost`. Other names may resolve anywhere. */
export function isLoopback(listen: Address): boolean {
  const host = (listen.ip ?? listen.host).toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && canonicalIP(host) === '::1';
}

const adminSection = section('a map with listen, token, read-token-required, max-connections and max-connections-per-client', {
  listen: address({ allowPortZero: true }).prefault(ADMIN_DEFAULTS.listen),
  token: token.optional(),
  // absent: reads are open on a loopback listener only (see the transform)
  'read-token-required': boolean.optional(),
  'max-connections': integer(1, 65_535).default(ADMIN_DEFAULTS.maxConnections),
  // absent: the default, or max-connections when that is smaller (see the transform)
  'max-connections-per-client': integer(1, 65_535).optional(),
})
  .superRefine((a, ctx) => {
    if (a.token === undefined && !isLoopback(a.listen)) {
      ctx.addIssue({
        code: 'custom',
        path: ['token'],
        message: `missing; the admin listener ${formatAddress(a.listen)} is reachable from other hosts, so a token is needed (or listen on 127.0.0.1)`,
      });
    }
    if (a.token === undefined && a['read-token-required'] === true) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'missing; read-token-required needs a token' });
    }
    const perClient = a['max-connections-per-client'];
    if (perClient !== undefined && perClient > a['max-connections']) {
      ctx.addIssue({ code: 'custom', path: ['max-connections-per-client'], message: `expected at most max-connections (${a['max-connections']}), got ${perClient}` });
    }
  })
  .transform((a): AdminConfig => ({
    listen: a.listen,
    token: a.token ?? null,
    // what the API shows (connections, members, the config) is for the operator: where other
    // hosts can connect, reads need the token unless the file says otherwise
    readTokenRequired: a['read-token-required'] ?? (a.token !== undefined && !isLoopback(a.listen)),
    maxConnections: a['max-connections'],
    maxConnectionsPerClient: a['max-connections-per-client'] ?? Math.min(ADMIN_DEFAULTS.maxConnectionsPerClient, a['max-connections']),
  }));

/** What an admin section allows that an operator should know of: said by `validate` and logged at start. */
export function adminWarnings(admin: AdminConfig | undefined): string[] {
  if (admin === undefined) return [];
  if (admin.token === null) return ['admin API without a token: anyone who can connect to it can drain, disable and reweigh members'];
  if (!admin.readTokenRequired && !isLoopback(admin.listen)) {
    return [`admin API on ${formatAddress(admin.listen)} with read-token-required: false: anyone who can connect to it can read pools, members and live connections`];
  }
  return [];
}

/** `admin:` left empty (every key commented out) means the defaults, as for other sections. */
export const adminSchema = z.preprocess((input) => (input === null ? {} : input), adminSection);

/** The admin listener is tcp: it cannot share a port with a service that takes tcp on it. */
export function checkAdminListener(admin: { listen: Address } | undefined, services: Readonly<Record<string, { listen: Address; mode: Mode }>>): PathIssue[] {
  if (admin === undefined) return [];
  for (const [name, service] of Object.entries(services)) {
    if (service.mode === 'udp' || !overlaps(service.listen, admin.listen)) continue;
    return [{ path: ['admin', 'listen'], message: `${formatAddress(admin.listen)} overlaps the listener of services.${name} (${formatAddress(service.listen)})` }];
  }
  return [];
}

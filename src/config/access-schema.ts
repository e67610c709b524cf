// The key `access: { allow: [...], deny: [...] }` of a service (tcp, udp, http) and of a route.
// Both lists take addresses or networks (a bare address is its own /32 or /128); at least one
// of them must name something, since an empty access would say nothing.

import { z } from 'zod';
import type { AccessConfig } from './access-types.ts';
import { expected } from './issues.ts';
import { cidr } from './network-leaves.ts';
import { section } from './schema-parts.ts';

const networks = z.preprocess(
  (input) => (input === null ? [] : typeof input === 'string' ? [input] : input),
  z.array(cidr, { error: (issue) => expected('a list of addresses or networks ("10.0.0.0/8")', issue.input) }),
);

export const accessSchema = section('a map with allow and/or deny, each a list of networks ("10.0.0.0/8")', {
  allow: networks.optional(),
  deny: networks.optional(),
})
  .superRefine((a, ctx) => {
    if ((a.allow ?? []).length === 0 && (a.deny ?? []).length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'access needs networks in allow or deny (an empty access lets every client in: remove it)' });
    }
  })
  .transform((a): AccessConfig => ({ allow: a.allow ?? [], deny: a.deny ?? [] }));

/** The modes whose clients furiwake sees itself, so that it can turn them away. */
export function accessIssue(mode: string): string | null {
  if (mode === 'tcp' || mode === 'udp' || mode === 'http') return null;
  return `access applies to tcp, udp and http services; the kernel forwards ${mode} services' packets without furiwake seeing them (filter them with the host's firewall)`;
}

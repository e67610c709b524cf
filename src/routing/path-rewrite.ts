// The path on the way to a pool's member: a route's strip-prefix or replace-prefix. The query
// stays as it was. A path that does not start with the prefix goes unchanged; what is left after
// stripping always starts with `/` (stripping /api from /api gives /, from /apiv2 gives /v2).

import type { PathRewrite } from '../config/routes-types.ts';

export function rewritePath(target: string, rewrite: PathRewrite): string {
  const { from, to } = rewrite;
  // `*` (OPTIONS *) is no path
  if (!target.startsWith(from)) return target;
  const rest = target.slice(from.length);
  if (to !== '' && to.charCodeAt(to.length - 1) === 0x2f /* / */ && rest.charCodeAt(0) === 0x2f) return to + rest.slice(1);
  const joined = to + rest;
  return joined.charCodeAt(0) === 0x2f ? joined : `/${joined}`;
}

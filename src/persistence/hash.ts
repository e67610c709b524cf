// hash persistence: a key the request carries — a user id in a query parameter, a header, a
// cookie or a path segment — is hashed onto the usable members with Maglev (balance/maglev.ts),
// so one key keeps one member while the members stay the same, and a member that comes or goes
// moves only about 1/N of the keys. Nothing is remembered (stateless).

import type { HashPersistence } from '../config/persistence-types.ts';
import { readCookie } from './cookie.ts';
import { pathSegment, queryParameter } from './request-target.ts';

/** Keys are bounded: a longer value is cut, which still hashes it deterministically. */
const MAX_KEY = 256;

export type HashRule = Pick<HashPersistence, 'source' | 'name' | 'segment'>;

/** What the url and hash methods read of a request. */
export interface RequestView {
  /** the request-target: path and query (`/cart;jsessionid=ABC.s2?user=42`) */
  readonly target: string;
  /** the value of a header by its lower-case name (the first, when repeated); undefined when absent */
  header(name: string): string | undefined;
}

/** The key `rule` takes from a request; undefined when the request does not carry one. */
export function hashKeyOf(request: RequestView, rule: HashRule): string | undefined {
  const target = request.target;
  let key: string | undefined;
  switch (rule.source) {
    case 'query':
      key = queryParameter(target, rule.name ?? '');
      break;
    case 'path-segment':
      key = pathSegment(target, rule.segment ?? 1);
      break;
    case 'cookie':
      key = readCookie(request.header('cookie'), rule.name ?? '');
      break;
    case 'header':
      key = request.header(rule.name ?? '');
      break;
  }
  if (key === undefined || key === '') return undefined;
  return key.length > MAX_KEY ? key.slice(0, MAX_KEY) : key;
}

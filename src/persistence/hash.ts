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

/** What the hash method reads of a request; Node's IncomingMessage fits it. */
export interface RequestView {
  /** the request-target: path and query */
  readonly url?: string;
  /** header values by lower-case name, as Node gives them */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** The key `rule` takes from a request; undefined when the request does not carry one. */
export function hashKeyOf(request: RequestView, rule: HashRule): string | undefined {
  const target = request.url ?? '/';
  let key: string | undefined;
  switch (rule.source) {
    case 'query':
      key = queryParameter(target, rule.name ?? '');
      break;
    case 'path-segment':
      key = pathSegment(target, rule.segment ?? 1);
      break;
    case 'cookie':
      key = readCookie(header(request, 'cookie'), rule.name ?? '');
      break;
    case 'header':
      key = header(request, rule.name ?? '');
      break;
  }
  if (key === undefined || key === '') return undefined;
  return key.length > MAX_KEY ? key.slice(0, MAX_KEY) : key;
}

/** One header's value; a repeated header counts by its first value. */
function header(request: RequestView, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

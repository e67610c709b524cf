// hash persistence: a key the request carries — a user id in a query parameter, a header, a
// cookie or a path segment — is hashed onto the usable members with Maglev (balance/maglev.ts),
// so one key keeps one member while the members stay the same, and a member that comes or goes
// moves only about 1/N of the keys. Nothing is remembered (stateless).

import { hashString, Maglev } from '../balance/index.ts';
import type { HashPersistence } from '../config/persistence-types.ts';
import { readCookie } from './cookie.ts';
import type { MemberSet, MethodDescriptor, MethodState, RequestView, Stickable } from './method.ts';
import { pathSegment, queryParameter } from './request-target.ts';

/** Keys are bounded: a longer value is cut, which still hashes it deterministically. */
const MAX_KEY = 256;

export type HashRule = Pick<HashPersistence, 'source' | 'name' | 'segment'>;

export type { RequestView };

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

/** Stateless: the key's member by Maglev over the pool's usable primaries, rebuilt when they change. */
class HashState<M extends Stickable> implements MethodState<M> {
  readonly table = null;
  readonly #rule: HashRule;
  readonly #maglev = new Maglev<M>([]);
  #of: readonly M[] | null = null;
  #weights: number[] = [];

  constructor(rule: HashRule) {
    this.#rule = rule;
  }

  requestKey(request: RequestView): string | null {
    return hashKeyOf(request, this.#rule) ?? null;
  }

  named(): M | undefined {
    return undefined;
  }

  choose(key: string, pool: MemberSet<M>, skip: readonly M[] | null): M | undefined {
    this.#sync(pool.members);
    return this.#maglev.pick(hashString(key), skip);
  }

  hashOf(key: string): number {
    return hashString(key);
  }

  /** Rebuilds the Maglev table only when the members or their weights changed. */
  #sync(members: readonly M[]): void {
    let same = members === this.#of;
    for (let i = 0; same && i < members.length; i++) same = members[i].weight === this.#weights[i];
    if (same) return;
    this.#of = members;
    this.#weights = members.map((m) => m.weight);
    this.#maglev.update(members.filter((m) => !m.backup));
  }
}

export const hashMethod: MethodDescriptor<HashPersistence> = {
  name: 'hash',
  stateful: false,
  keySource: 'request',
  remembersChoice: false,
  kernel: null,
  create<M extends Stickable>(config: HashPersistence): MethodState<M> {
    return new HashState<M>(config);
  },
};

// url persistence: the member's id travels in the URL, put there by the application itself
// (a servlet container's `;jsessionid=ABC.s2`, where s2 is the server's route), so the balancer
// keeps no table (stateless). The id is the member's configured `id`, in clear and unsigned:
// a client that edits its URL chooses its member, as with nginx's `sticky route`.

import type { UrlPersistence } from '../config/persistence-types.ts';
import type { MemberSet, MethodDescriptor, MethodState, RequestView, Stickable } from './method.ts';
import { pathParameter, pathSegment, queryParameter } from './request-target.ts';

/** Ids longer than a member id may be (64) are not ids. */
const MAX_ID = 64;

export type UrlRule = Pick<UrlPersistence, 'source' | 'name' | 'segment' | 'separator'>;

/**
 * The member id a request-target carries under `rule`; undefined when it carries none. With a
 * separator, the id is what follows its last occurrence in the value (`ABC.s2` -> `s2`); a
 * value without the separator carries no id.
 */
export function memberIdFromUrl(target: string, rule: UrlRule): string | undefined {
  const value = rule.source === 'path-segment'
    ? pathSegment(target, rule.segment ?? 1)
    : rule.source === 'query'
      ? queryParameter(target, rule.name ?? '')
      : pathParameter(target, rule.name ?? '');
  if (value === undefined) return undefined;
  let id = value;
  if (rule.separator !== '') {
    const at = value.lastIndexOf(rule.separator);
    if (at === -1) return undefined;
    id = value.slice(at + 1);
  }
  return id === '' || id.length > MAX_ID ? undefined : id;
}

/** Stateless: the member is the one whose id the URL carries. */
class UrlState<M extends Stickable> implements MethodState<M> {
  readonly table = null;
  readonly #rule: UrlRule;

  constructor(rule: UrlRule) {
    this.#rule = rule;
  }

  requestKey(request: RequestView): string | null {
    return memberIdFromUrl(request.target, this.#rule) ?? null;
  }

  named(key: string, pool: MemberSet<M>): M | undefined {
    return pool.member(key);
  }
}

export const urlMethod: MethodDescriptor<UrlPersistence> = {
  name: 'url',
  stateful: false,
  keySource: 'request',
  remembersChoice: false,
  kernel: null,
  create<M extends Stickable>(config: UrlPersistence): MethodState<M> {
    return new UrlState<M>(config);
  },
};

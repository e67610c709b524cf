// HTTP requests counted by service, member and status class, for the metrics page and the
// dashboard. The http data plane calls count() once per response; readers walk the counts
// when asked. One Map entry per (service, member, class) that has been seen, so the cost per
// request is one string key and one Map update.

import type { Member } from './member.ts';

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

export interface RequestCount {
  service: string;
  /** null when no member answered (the balancer's own 503, a request refused before dispatch) */
  pool: string | null;
  member: string | null;
  status: StatusClass;
  count: number;
}

const CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];

export function statusClass(status: number): StatusClass {
  return CLASSES[classIndex(status)];
}

function classIndex(status: number): number {
  return Math.min(Math.max(Math.floor(status / 100), 1), 5) - 1;
}

export class RequestCounts {
  readonly #counts = new Map<string, RequestCount>();
  /**
   * The entries count() found before, by member (or, for the balancer's own answers, by service
   * alone), then service, then class: a request after the first of its kind makes no key string.
   */
  readonly #byMember = new WeakMap<Member, Map<string, RequestCount[]>>();
  readonly #own = new Map<string, RequestCount[]>();

  /** One response with `status` sent to a client of `service`, answered by `member` (or by the balancer). */
  count(service: string, member: Member | null, status: number): void {
    let slots: RequestCount[] | undefined;
    if (member === null) {
      slots = this.#own.get(service);
      if (slots === undefined) this.#own.set(service, (slots = []));
    } else {
      let byService = this.#byMember.get(member);
      if (byService === undefined) this.#byMember.set(member, (byService = new Map()));
      slots = byService.get(service);
      if (slots === undefined) byService.set(service, (slots = []));
    }
    const i = classIndex(status);
    const known = slots[i];
    if (known !== undefined) {
      known.count++;
      return;
    }
    const cls = CLASSES[i];
    const key = member === null ? `${service}\0\0\0${cls}` : `${service}\0${member.poolName}\0${member.id}\0${cls}`;
    let entry = this.#counts.get(key);
    if (entry !== undefined) entry.count++;
    else this.#counts.set(key, (entry = { service, pool: member?.poolName ?? null, member: member?.id ?? null, status: cls, count: 1 }));
    slots[i] = entry;
  }

  /** Adds `n` responses counted elsewhere: a worker thread's (workers/workers-view.ts), under the same key count() uses. */
  add(c: Readonly<RequestCount>, n: number): void {
    const key = c.pool === null || c.member === null ? `${c.service}\0\0\0${c.status}` : `${c.service}\0${c.pool}\0${c.member}\0${c.status}`;
    const entry = this.#counts.get(key);
    if (entry !== undefined) entry.count += n;
    else this.#counts.set(key, { service: c.service, pool: c.pool, member: c.member, status: c.status, count: n });
  }

  list(): IterableIterator<Readonly<RequestCount>> {
    return this.#counts.values();
  }

  /** Requests answered by one member, all classes and services together. */
  ofMember(member: Member): number {
    let n = 0;
    for (const c of this.#counts.values()) if (c.member === member.id && c.pool === member.poolName) n += c.count;
    return n;
  }
}

// HTTP requests counted by service, member, status class and protocols (the client's HTTP
// version, how the member was spoken to), for the metrics page and the dashboard. The http data
// plane calls count() once per response; readers walk the counts when asked. One Map entry per
// (service, member, class, protocols) that has been seen, found again by array index, so a
// request after the first of its kind costs no string.

import type { MemberProtocol } from '../config/member-protocol-schema.ts';
import type { Member } from './member.ts';

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

export interface RequestCount {
  service: string;
  /** null when no member answered (the balancer's own 503, a request refused before dispatch) */
  pool: string | null;
  member: string | null;
  status: StatusClass;
  /** the HTTP version the client spoke */
  protocol: ClientProtocol;
  /** how the member was spoken to (its pool's member-protocol); '' when no member answered */
  memberProtocol: MemberProtocol | '';
  count: number;
}

/** Requests of one service by the pair of protocols. */
export interface ProtocolCount {
  protocol: ClientProtocol;
  memberProtocol: MemberProtocol | '';
  count: number;
}

const CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/** The client's HTTP version, by the number count() takes. */
export const CLIENT_PROTOCOLS = ['HTTP/1.0', 'HTTP/1.1', 'HTTP/2'] as const;
export type ClientProtocol = (typeof CLIENT_PROTOCOLS)[number];
export const HTTP1_0 = 0;
export const HTTP1_1 = 1;
export const HTTP2 = 2;

const MEMBER_PROTOCOLS: readonly (MemberProtocol | '')[] = ['', 'http1', 'h2', 'h2c'];

function memberProtocolIndex(p: MemberProtocol | null): number {
  return p === null ? 0 : p === 'http1' ? 1 : p === 'h2' ? 2 : 3;
}

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

  /**
   * One response with `status` sent to a client of `service`, answered by `member` (or by the
   * balancer), to a client speaking CLIENT_PROTOCOLS[client], the member spoken to in `memberProtocol`.
   */
  count(service: string, member: Member | null, status: number, client = HTTP1_1, memberProtocol: MemberProtocol | null = member === null ? null : 'http1'): void {
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
    const mp = memberProtocolIndex(member === null ? null : memberProtocol);
    const i = (client * MEMBER_PROTOCOLS.length + mp) * CLASSES.length + classIndex(status);
    const known = slots[i];
    if (known !== undefined) {
      known.count++;
      return;
    }
    const c: RequestCount = {
      service, pool: member?.poolName ?? null, member: member?.id ?? null, status: CLASSES[classIndex(status)],
      protocol: CLIENT_PROTOCOLS[client], memberProtocol: MEMBER_PROTOCOLS[mp], count: 0,
    };
    const key = keyOf(c);
    let entry = this.#counts.get(key);
    if (entry === undefined) this.#counts.set(key, (entry = c));
    entry.count++;
    slots[i] = entry;
  }

  /** Adds `n` responses counted elsewhere: a worker thread's (workers/workers-view.ts), under the same key count() uses. */
  add(c: Readonly<RequestCount>, n: number): void {
    const key = keyOf(c);
    const entry = this.#counts.get(key);
    if (entry !== undefined) entry.count += n;
    else this.#counts.set(key, { service: c.service, pool: c.pool, member: c.member, status: c.status, protocol: c.protocol, memberProtocol: c.memberProtocol, count: n });
  }

  list(): IterableIterator<Readonly<RequestCount>> {
    return this.#counts.values();
  }

  /** Requests of `service` by the client's protocol and the member's (the pairs seen), all members and classes together. */
  byProtocol(service: string): ProtocolCount[] {
    const out: ProtocolCount[] = [];
    for (const c of this.#counts.values()) {
      if (c.service !== service) continue;
      const sum = out.find((p) => p.protocol === c.protocol && p.memberProtocol === c.memberProtocol);
      if (sum === undefined) out.push({ protocol: c.protocol, memberProtocol: c.memberProtocol, count: c.count });
      else sum.count += c.count;
    }
    return out;
  }

  /** Requests answered by one member, all classes and services together. */
  ofMember(member: Member): number {
    let n = 0;
    for (const c of this.#counts.values()) if (c.member === member.id && c.pool === member.poolName) n += c.count;
    return n;
  }
}

function keyOf(c: Readonly<RequestCount>): string {
  const member = c.pool === null || c.member === null ? '\0' : `${c.pool}\0${c.member}`;
  return `${c.service}\0${member}\0${c.status}\0${c.protocol}\0${c.memberProtocol}`;
}

// What the pieces of one http service share: the live service (its config and pool are read
// per request, so a reload applies to the next request), the member connections kept alive,
// the access log, the response counters.

import type { MemberProtocol } from '../../config/member-protocol-schema.ts';
import type { Logger } from '../../log.ts';
import type { Member } from '../../runtime/member.ts';
import type { Service } from '../../runtime/service.ts';
import type { MemberConnections } from './member-connections.ts';

/** Counts responses by status class and protocols (the runtime's RequestCounts has this shape). */
export interface ResponseCounter {
  /** `client`: 0 HTTP/1.0, 1 HTTP/1.1, 2 HTTP/2 (runtime/request-counts.ts) */
  count(service: string, member: Member | null, status: number, client: number, memberProtocol: MemberProtocol | null): void;
}

export interface HttpServiceContext {
  readonly service: Service;
  readonly members: MemberConnections;
  /** the access log (the app's logger); lines are written at info level */
  readonly log: Logger;
  readonly counts: ResponseCounter | null;
}

/** Kinds of deadline a client connection can be under (one at a time). */
export const Deadline = {
  NONE: 0,
  /** waiting for the first request on a new connection, or a request head still arriving */
  HEADERS: 1,
  /** between requests */
  KEEP_ALIVE: 2,
  /** the exchange in progress decides (connect, response, idle) */
  EXCHANGE: 3,
  /** after an error response: reading what the client still sends, briefly, before closing */
  LINGER: 4,
} as const;

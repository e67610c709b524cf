// What floods cost the process, counted for the operator: descriptors that ran out (EMFILE,
// ENFILE on accept or on a udp flow's socket), udp flows evicted to let a new client in, clients
// refused for being over their connection cap or over the descriptor budget. None of these is a member's failure. Each kind is
// logged at most once per interval per service, the line saying how many went unlogged since.

import type { Logger } from '../log.ts';

/** At most one log line per kind and service this often. */
export const RESOURCE_LOG_INTERVAL = 10_000;

/** Error codes that mean the process or the system ran out of file descriptors. */
export function outOfDescriptors(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'EMFILE' || code === 'ENFILE') return true;
  // the handles engine reports accept errors as an Error whose message names the errno
  const message = (err as Error | null)?.message ?? '';
  return message.includes('EMFILE') || message.includes('ENFILE');
}

interface LogState {
  at: number;
  unlogged: number;
}

export class ResourceCounts {
  /** accepts and udp flow sockets that failed because descriptors ran out */
  descriptorsExhausted = 0;
  /** udp flows closed to make room for a new client (the flow table was full) */
  flowsEvicted = 0;
  /** connections refused because their client address was at its cap */
  clientCapRefused = 0;
  /** tcp and http connections closed at accept because the descriptor budget had no room for them */
  overBudget = 0;
  /** clients turned away for their PROXY header (malformed, missing or late), tcp and http */
  proxyHeadersRefused = 0;
  /** HTTP/2 client connections closed for breaking a protocol bound (a flood, rapid reset), by service, then reason */
  readonly http2Refusals = new Map<string, Map<string, number>>();
  /** connections ended because a throw escaped their logic (a defect: logged with its stack) */
  connectionsFailed = 0;
  /** worker threads only: log lines their destinations dropped (log/outputs.ts), as of their last report */
  logLinesDropped = 0;
  /** how many tcp and http client connections the descriptor budget has room for (each also holds a member connection) */
  maxConnections = Infinity;
  /** http member connections kept idle for the next request, over every http service: one descriptor each */
  idleMemberConnections = 0;
  /** HTTP/2 sessions to h2 and h2c members open now, over every http service: one descriptor each, however many requests they carry */
  h2MemberSessions = 0;
  /**
   * http client connections counted as their own descriptor alone: every HTTP/2 client (its
   * streams' member connections are counted as they are held, clientOnlyMemberConnections), and
   * HTTP/1.1 clients of services whose pool speaks HTTP/2 to its members (h2, h2c: their requests
   * ride the pool's shared sessions)
   */
  clientOnlyConnections = 0;
  /**
   * HTTP/1.1 member connections held now by the requests of those client connections: one
   * descriptor each, so an HTTP/2 client with 100 streams in flight to an HTTP/1.1 pool counts 101
   */
  clientOnlyMemberConnections = 0;
  /** requests refused (REFUSED_STREAM, or 503) because the budget had no room for the member connection they needed */
  requestsOverBudget = 0;
  /** udp flows open now, over every udp service (the rest of the connection table is tcp and http) */
  udpFlows = 0;
  readonly #logged = new Map<string, LogState>();

  /** Descriptors ran out: counted, logged now and then. */
  exhausted(log: Logger, service: string, where: 'accept' | 'udp flow', err: unknown): void {
    this.descriptorsExhausted++;
    const code = (err as NodeJS.ErrnoException | null)?.code ?? (err as Error | null)?.message ?? String(err);
    this.limited(log, `fd:${service}`, { service, where, code, total: this.descriptorsExhausted },
      'out of file descriptors: new clients are refused until some close (see "File descriptors: the budget" in docs/connections.md)');
  }

  /** A udp flow made room for a new client. */
  evicted(log: Logger, service: string): void {
    this.flowsEvicted++;
    this.limited(log, `evict:${service}`, { service, total: this.flowsEvicted },
      'udp flow table full: the least recently active flows were closed to let new clients in');
  }

  /** A client over its connection cap was refused. */
  refused(log: Logger, service: string, client: string): void {
    this.clientCapRefused++;
    this.limited(log, `cap:${service}`, { service, client, total: this.clientCapRefused },
      'a client reached max-connections-per-client: its new connections are closed at once');
  }

  /** A client's PROXY header was refused: its connection is closed. */
  proxyHeaderRefused(log: Logger, service: string, client: string, reason: string): void {
    this.proxyHeadersRefused++;
    this.limited(log, `proxy:${service}`, { service, client, reason, total: this.proxyHeadersRefused }, 'PROXY header refused: the connection is closed');
  }

  /** An HTTP/2 client broke a bound (`reason`: rapid-reset, continuation-flood, ...): its connection is closed. */
  http2Refused(log: Logger, service: string, client: string, reason: string): void {
    let byReason = this.http2Refusals.get(service);
    if (byReason === undefined) this.http2Refusals.set(service, (byReason = new Map()));
    const total = (byReason.get(reason) ?? 0) + 1;
    byReason.set(reason, total);
    this.limited(log, `h2:${service}:${reason}`, { service, client, reason, total },
      'an HTTP/2 client broke a protocol bound: its connection is closed (GOAWAY)');
  }

  /**
   * Whether the descriptor budget has room for one more tcp or http connection, given the table's
   * size (or for one more member connection of a client counted alone: the same room, held < limit).
   */
  roomFor(tableSize: number): boolean {
    // in descriptors: a proxied connection holds two (its client's and its member connection's); a
    // client counted alone one, and each member connection its requests hold one; an idle member
    // connection or an h2 member session one
    const held = 2 * (tableSize - this.udpFlows) - this.clientOnlyConnections + this.clientOnlyMemberConnections + this.idleMemberConnections + this.h2MemberSessions;
    return held < 2 * this.maxConnections;
  }

  /** A request that needed a member connection of its own (its client counted alone) was refused: no room in the budget. */
  requestRefusedOverBudget(log: Logger, service: string): void {
    this.requestsOverBudget++;
    this.limited(log, `budget-request:${service}`, { service, total: this.requestsOverBudget, max: this.maxConnections },
      'the file descriptor budget is spent: requests of HTTP/2 clients that need a new member connection are refused (REFUSED_STREAM) until some close');
  }

  /** A tcp or http client the budget had no room for was closed at accept. */
  refusedOverBudget(log: Logger, service: string): void {
    this.overBudget++;
    this.limited(log, `budget:${service}`, { service, total: this.overBudget, max: this.maxConnections },
      'the file descriptor budget is spent: new connections are closed at once until some close');
  }

  /** A warning of `key`'s kind, unless one went out less than the interval ago. */
  limited(log: Logger, key: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const state = this.#logged.get(key);
    if (state !== undefined && now - state.at < RESOURCE_LOG_INTERVAL) {
      state.unlogged++;
      return;
    }
    log.warn(state !== undefined && state.unlogged > 0 ? { ...fields, unlogged: state.unlogged } : fields, msg);
    this.#logged.set(key, { at: now, unlogged: 0 });
  }
}

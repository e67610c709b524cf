// The worker threads that serve tcp and http services (global.workers above 1) as the admin plane
// reads them: the app gives them (workers/workers-view.ts) through AdminHost.dataThreads.

import type { Member } from '../runtime/member.ts';
import type { ConnectionView } from './schemas.ts';

/** Which connections: the API's filters, by name (member needs pool). */
export interface ConnectionsOf {
  service?: string;
  pool?: string;
  member?: string;
}

export interface ConnectionQuery extends ConnectionsOf {
  /** show request targets with their query strings */
  showQuery: boolean;
  /** how many views to send: the oldest (a page of the API) or the newest (the dashboard) */
  take: number;
  newest: boolean;
}

/**
 * ms between a worker's loop-delay samples (workers/loop-delay.ts): a timer due this often notes
 * how late it fired, so a stall shorter than this may be seen in part. What it costs an idle
 * worker (schedstat, 2 idle workers, this 2-core VM): at 10 (prom-client's) 5.8 ms of CPU a second
 * each (13.2 ms/s against 1.6 without), at 50 2.7 ms/s each (6.9–7.0 against 1.6–1.7).
 */
export const LOOP_DELAY_RESOLUTION = 50;

/** The worker threads' live figures as of their last report: what the runtime's own objects do not hold. */
export interface ThreadsLive {
  /** bytes moved by their live connections, by member */
  bytes: ReadonlyMap<Member, { in: number; out: number }>;
  /** their live connections by service */
  services: ReadonlyMap<string, number>;
  /** their live http client connections by service and HTTP version */
  httpClients: ReadonlyMap<string, { readonly http1: number; readonly http2: number }>;
  /** clients waiting in their pools' queues, by pool */
  queued: ReadonlyMap<string, number>;
  /** their live connections in all */
  connections: number;
}

/**
 * The worker threads that serve tcp and http services (global.workers above 1), as the admin
 * plane reads them (workers/workers-view.ts).
 */
export interface DataThreads {
  /**
   * Adds what each worker counted since it was last asked to the runtime's own members, pools and
   * tables, and takes their live figures: every reader of the runtime then shows the sums.
   */
  refresh(): Promise<void>;
  live(): ThreadsLive;
  /** Each worker's part of the connection table: how many match, and `take` of them */
  connections(query: ConnectionQuery): Promise<{ total: number; items: ConnectionView[] }[]>;
  /** Ends connection `id` where a worker holds it: how many ended there (0 or 1) and which worker; null when the id is no worker's */
  end(id: number): Promise<{ ended: number; worker: number } | null>;
  /** The longest each worker's event loop was late (s) in the reports since the last call, by worker index; starts anew. */
  takeLoopDelays(): Map<number, number>;
  /** Ends every worker's connections that match; how many */
  endAll(of: ConnectionsOf): Promise<number>;
}

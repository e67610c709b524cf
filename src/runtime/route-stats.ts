// What one route of a service has done: for http, requests answered (by a member or by the
// route's own redirect, respond or deny), those answered with a 5xx, and their total time; for
// tcp, connections it took; for both, the clients its access turned away. Kept across a reload
// while the route keeps its name.

export class RouteStats {
  requests = 0;
  /** responses with a 5xx status (the member's, or furiwake's own 502, 503, 504) */
  errors = 0;
  /** the sum of the requests' times, from the request head to the end of the response (ms) */
  latencyMs = 0;
  /** requests (tcp: connections) the route's own access turned away; also counted in requests */
  denied = 0;
  /** tcp: connections the route took (its pool's, or refused by deny or access) */
  connections = 0;

  record(status: number, ms: number): void {
    this.requests++;
    if (status >= 500) this.errors++;
    this.latencyMs += ms;
  }
}

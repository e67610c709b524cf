// The normalized `rate-limit` of a service or an http route (proxy/rate-limits.ts): requests per
// second with a burst (a token bucket per key), and for a service, new connections per second
// with their own burst. Rates are per millisecond here; 0 = that limit is off.
// (`rate-limit.connections` is the service's max-connections-per-client: ServiceConfig holds it.)

/** What a request is counted under: its client's address (masked), or a request header's value. */
export type RateKey = { kind: 'client' } | { kind: 'header'; /** lowercase */ name: string };

export interface RateLimitConfig {
  /** requests per ms; 0 = requests are not limited */
  requests: number;
  /** requests a client may send at once after a quiet spell (the bucket's size) */
  burst: number;
  /** new connections per ms (tcp, http services); 0 = not limited */
  connectionRate: number;
  connectionBurst: number;
  /** requests without the header are counted under their client's address */
  by: RateKey;
  /** the leading bits of a client address that make its key */
  ipv4Mask: number;
  ipv6Mask: number;
  /** the most keys a table holds (one table per limit) */
  tableSize: number;
}

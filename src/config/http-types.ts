// The normalized settings of an `http` service: TLS termination, the redirect to https, the
// forwarded headers, timeouts and limits of the HTTP exchange, TLS and keep-alive towards the
// members, the access log, the routes. Durations in ms, sizes in bytes; see docs/configuration.md and docs/http.md.

import type { ErrorPagesConfig, HeaderRulesConfig, RequestIdConfig } from './header-rules-types.ts';
import type { RouteConfig } from './routes-types.ts';

/** Which headers tell the member about the client. */
export type ForwardedHeaders = 'x-forwarded' | 'forwarded' | 'both' | 'none';

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** The application protocols an https service offers in ALPN, in its order of preference. */
export type AlpnProtocol = 'h2' | 'http/1.1';

/** One certificate with its key. The files are read when the config is loaded. */
export interface TlsCertificateConfig {
  /** the certificate (chain) file, as resolved against the config file's directory */
  certFile: string;
  keyFile: string;
  /** the files' PEM contents; filled in by loadConfig */
  cert: string;
  key: string;
  /**
   * the server names (SNI) this certificate answers for: as configured, or else the DNS names
   * of the certificate (subjectAltName, else its CN) as loadConfig reads them; `*.example.com`
   * matches one label
   */
  names: string[];
}

export interface TlsConfig {
  /** the first one also answers clients that send no SNI or an unknown name */
  certificates: TlsCertificateConfig[];
  minVersion: TlsVersion;
  /** offered in ALPN, most preferred first; a client that asks for neither gets http/1.1 */
  alpn: AlpnProtocol[];
}

/** HTTP/2 from clients: over TLS when ALPN picks h2, in clear by prior knowledge when `h2c`. */
export interface Http2Config {
  /** a plain http service also takes HTTP/2 by prior knowledge (the client starts with the h2 preface) */
  h2c: boolean;
  /** streams (requests) a client may have open at once on one connection (the SETTINGS it is sent) */
  maxConcurrentStreams: number;
  /** streams a client may reset within one second on one connection before it is closed (rapid reset) */
  maxResetsPerSecond: number;
}

export interface RedirectConfig {
  /** the https port in the Location; 443 is left out of it */
  port: number;
  status: 301 | 302 | 307 | 308;
}

export interface MemberTlsConfig {
  /** check the member's certificate against the CA and the name */
  verify: boolean;
  /** the name sent as SNI and checked; null = the member's host when it is a name, else no SNI */
  sni: string | null;
  /** a CA bundle file; null = the system's CAs */
  caFile: string | null;
  /** the file's PEM contents; filled in by loadConfig */
  ca: string | null;
}

export interface HttpServiceConfig {
  timeouts: {
    /** a request's head must arrive in full within this long after its first byte (ms) */
    headers: number;
    /** a member must start its response within this long after the request was sent (ms) */
    response: number;
    /** a client connection may wait this long for its next request (ms) */
    keepAlive: number;
    /** the whole request, head and body, must arrive within this long after its first byte (ms); 0 = no such bound */
    request: number;
    /** the request body may pause this long between reads (ms); also the grace before min-body-rate applies */
    body: number;
    /** after the first `body` ms, the body must have come at this many bytes per second on average; 0 = no minimum */
    minBodyRate: number;
  };
  limits: {
    /** bytes of the request line (method, target, version) */
    requestLine: number;
    /** bytes of the whole request head (request line and headers) */
    headers: number;
  };
  forwarded: ForwardedHeaders;
  /**
   * peers whose X-Forwarded-For is believed (CIDR): a request from one of them is from the last
   * address in X-Forwarded-For that is not itself a trusted proxy (persistence key, access log)
   */
  trustedProxies: string[];
  /** TLS termination (https); null = plain http */
  tls: TlsConfig | null;
  /** answer every request with a redirect to https; null = proxy as usual */
  redirectHttps: RedirectConfig | null;
  /** TLS towards the members; null = plain */
  memberTls: MemberTlsConfig | null;
  memberKeepAlive: {
    /** idle connections kept per member; 0 = one connection per request */
    maxIdle: number;
    /** an idle member connection is closed after this long (ms) */
    idleTimeout: number;
  };
  /** one info line per request */
  accessLog: boolean;
  /** first match wins; a request no route takes goes to the service's pool (routes-types.ts) */
  routes: RouteConfig[];
  http2: Http2Config;
  /** header rules of every request and response; a route's rules apply after these; null: none */
  headers: HeaderRulesConfig | null;
  /** a request id for every request (passed to the member, logged); null: none */
  requestId: RequestIdConfig | null;
  /** the bodies of furiwake's own 4xx/5xx answers, by status or `default`; empty: plain text */
  errorPages: ErrorPagesConfig;
}

// The normalized `persistence` of a service: how one client's connections or requests are kept
// on one member. source-ip and tls-session remember clients in a stick table (stateful);
// cookie, url and hash read the member from the request itself (stateless).

export type PersistenceMethod = 'source-ip' | 'tls-session' | 'cookie' | 'url' | 'hash';

/**
 * What a client whose member is at its max-connections gets: `repin`, another member (chosen by
 * the pool's algorithm, and remembered); `wait`, a place in the pool's queue for its own member.
 */
export type WhenFull = 'repin' | 'wait';

/** Keys every method has. */
export interface PersistenceCommon {
  whenFull: WhenFull;
}

/** The bounds of a stick table. */
export interface StickTableConfig {
  /** ms of inactivity after which a client is forgotten */
  timeout: number;
  /** the most clients remembered; the least recently seen is forgotten first */
  maxEntries: number;
}

export interface SourceIpPersistence extends StickTableConfig, PersistenceCommon {
  method: 'source-ip';
  /** IPv4 prefix length of the key, 0..32 */
  mask: number;
  /** IPv6 prefix length of the key, 0..128 */
  mask6: number;
}

export interface TlsSessionPersistence extends StickTableConfig, PersistenceCommon {
  method: 'tls-session';
}

export type CookieMode = 'insert' | 'rewrite' | 'prefix';
export type SameSite = 'lax' | 'strict' | 'none';

/** The attributes of the cookie furiwake sets (insert). */
export interface CookieAttributes {
  path: string;
  domain: string | null;
  httpOnly: boolean;
  secure: boolean;
  sameSite: SameSite;
  /** seconds; null = a session cookie (gone when the browser closes) */
  maxAge: number | null;
}

export interface CookiePersistence extends CookieAttributes, PersistenceCommon {
  method: 'cookie';
  /** the cookie's name: furiwake's own (insert), or the application's (rewrite, prefix) */
  cookie: string;
  mode: CookieMode;
  /** the key that signs cookie values; null = a random key made when the process starts */
  secret: string | null;
  /** the cookie value shows the member's address (still signed) rather than only a token */
  exposeAddress: boolean;
}

/** Where a request carries the member id (url) or the key to hash (hash). */
export type UrlSource = 'path-parameter' | 'query' | 'path-segment';
export type HashSource = 'query' | 'header' | 'cookie' | 'path-segment';

export interface UrlPersistence extends PersistenceCommon {
  method: 'url';
  source: UrlSource;
  /** path-parameter or query parameter name; null for path-segment */
  name: string | null;
  /** path-segment: which segment, 1 = the first */
  segment: number | null;
  /** the member id is what follows the last separator in the value; '' = the whole value */
  separator: string;
}

export interface HashPersistence extends PersistenceCommon {
  method: 'hash';
  source: HashSource;
  /** query parameter, header or cookie name; null for path-segment */
  name: string | null;
  /** path-segment: which segment, 1 = the first */
  segment: number | null;
}

export type PersistenceConfig =
  | SourceIpPersistence
  | TlsSessionPersistence
  | CookiePersistence
  | UrlPersistence
  | HashPersistence;

// The `access` of a service or of a route: which client networks may use it. Deny wins over
// allow; an empty allow list lets in every client not denied. Networks are canonical CIDR
// (`10.0.0.0/8`, `2001:db8::/32`); an IPv4 client seen as ::ffff:a.b.c.d is matched as IPv4.

export interface AccessConfig {
  /** empty: every client not denied */
  allow: string[];
  deny: string[];
}

// A service's routes, compiled once per config, and the one question asked per request: which
// route takes it (first match wins), or none (the service's pool). The host and path lists are
// answered by map lookups and a prefix trie, each giving the set of routes it allows (bits.ts);
// the routes in both sets are then tried in order against their other conditions. A request
// allocates nothing here beyond what a condition must read (a lowercased Host, the path for a
// path-regex, a host suffix for a wildcard).

import type { RouteConfig } from '../config/routes-types.ts';
import { readAddress } from '../ip-text.ts';
import { lowestBit } from './bits.ts';
import { Conditions, type Facts } from './conditions.ts';
import { HostIndex } from './host-index.ts';
import { hostKey } from './host-key.ts';
import { PathIndex } from './path-index.ts';

/** What a route reads of a request: the request head's fields of these names. */
export interface RoutedRequest {
  readonly host: string | null;
  readonly target: string;
  readonly method: string;
  readonly fields: string;
}

export class RouteTable {
  readonly size: number;
  readonly #hosts: HostIndex;
  readonly #paths: PathIndex;
  readonly #conditions: readonly Conditions[];
  /** one request's facts, refilled per match (a table serves one thread, one request at a time) */
  readonly #facts = new RequestFacts();

  /** Compiles `routes` (checked by the config: their regexes and networks are valid). */
  constructor(routes: readonly RouteConfig[]) {
    this.size = routes.length;
    this.#hosts = new HostIndex(routes.map((r) => r.match.hosts));
    this.#paths = new PathIndex(routes.map((r) => r.match.paths), routes.map((r) => r.match.pathPrefixes));
    this.#conditions = routes.map((r) => new Conditions(r.match));
  }

  /**
   * The index of the first route whose conditions all hold for `req`, from `client` (an address
   * as text) over TLS naming `sni` (null: plain http, or no name sent); -1 when none does.
   */
  match(req: RoutedRequest, client: string, sni: string | null): number {
    const f = this.#facts;
    const target = req.target;
    const q = target.indexOf('?');
    f.reset(hostKey(req.host), target, q === -1 ? target.length : q, req.method, req.fields, sni, client);
    const hosts = this.#hosts.lookup(f.host);
    const paths = this.#paths.lookup(target, f.pathEnd);
    const conditions = this.#conditions;
    for (let w = 0; w < hosts.length; w++) {
      let word = hosts[w] & paths[w];
      while (word !== 0) {
        const bit = lowestBit(word);
        const i = (w << 5) + bit;
        if (conditions[i].hold(f)) return i;
        word &= ~(1 << bit);
      }
    }
    return -1;
  }
}

class RequestFacts implements Facts {
  host = '';
  target = '';
  pathEnd = 0;
  method = '';
  fields = '';
  sni: string | null = null;
  #client = '';
  #path: string | null = null;
  /** 0: not read yet, 1: read into #bytes, 2: not an address */
  #addressState = 0;
  readonly #bytes = new Uint8Array(16);

  reset(host: string, target: string, pathEnd: number, method: string, fields: string, sni: string | null, client: string): void {
    this.host = host;
    this.target = target;
    this.pathEnd = pathEnd;
    this.method = method;
    this.fields = fields;
    this.sni = sni;
    this.#client = client;
    this.#path = null;
    this.#addressState = 0;
  }

  path(): string {
    return (this.#path ??= this.pathEnd === this.target.length ? this.target : this.target.slice(0, this.pathEnd));
  }

  address(): Uint8Array | null {
    if (this.#addressState === 0) this.#addressState = readAddress(this.#client, this.#bytes, 0) ? 1 : 2;
    return this.#addressState === 1 ? this.#bytes : null;
  }
}

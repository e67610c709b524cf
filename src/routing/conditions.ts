// What a route asks of a request beyond its host and path lists (which the indexes answer): a
// host or path regex, methods, headers, query parameters, client networks, the TLS server name.
// Compiled once per config; each test is skipped when the route does not ask it.

import type { RouteMatchConfig } from '../config/routes-types.ts';
import { headerHolds, type HeaderTest, queryHolds } from './fields.ts';
import { longestSuffix } from './host-key.ts';
import { inNetworks, type Network, parseNetwork } from './networks.ts';

/** What the route table worked out of one request, for the conditions to read. */
export interface Facts {
  /** lowercase, no port; '' when the request named none */
  host: string;
  target: string;
  /** where the path ends in `target` (at `?`, or its length) */
  pathEnd: number;
  method: string;
  fields: string;
  /** the TLS server name (lowercase); null for plain http or none sent */
  sni: string | null;
  /** the client address as 16 bytes, or null when it is not an address; read when first asked */
  address(): Uint8Array | null;
  /** the path without its query; copied when first asked */
  path(): string;
}

export class Conditions {
  readonly #needsHost: boolean;
  readonly #hostRegex: RegExp | null;
  readonly #pathRegex: RegExp | null;
  readonly #methods: readonly string[] | null;
  readonly #headers: readonly HeaderTest[] | null;
  readonly #query: RouteMatchConfig['query'] | null;
  readonly #networks: readonly Network[] | null;
  readonly #sniExact: ReadonlySet<string> | null;
  readonly #sniSuffixes: ReadonlyMap<string, true> | null;
  readonly #sniRegex: RegExp | null;

  constructor(m: RouteMatchConfig) {
    this.#needsHost = m.hosts.length > 0 || m.hostRegex !== null;
    this.#hostRegex = m.hostRegex === null ? null : new RegExp(m.hostRegex);
    this.#pathRegex = m.pathRegex === null ? null : new RegExp(m.pathRegex);
    this.#methods = m.methods.length === 0 ? null : m.methods;
    this.#headers = m.headers.length === 0 ? null : m.headers.map((cond) => ({ cond, regex: cond.kind === 'regex' ? new RegExp(cond.value) : null }));
    this.#query = m.query.length === 0 ? null : m.query;
    this.#networks = m.clientNetworks.length === 0 ? null : m.clientNetworks.map(parseNetwork);
    const exact = m.sni.filter((n) => !n.startsWith('*.'));
    const wild = m.sni.filter((n) => n.startsWith('*.'));
    this.#sniExact = m.sni.length === 0 ? null : new Set(exact);
    this.#sniSuffixes = m.sni.length === 0 ? null : new Map(wild.map((n) => [n.slice(1), true]));
    this.#sniRegex = m.sniRegex === null ? null : new RegExp(m.sniRegex);
  }

  /** Whether the request meets them all; the host and path lists were met already. */
  hold(f: Facts): boolean {
    if (this.#needsHost && f.host === '') return false;
    if (this.#methods !== null && !this.#methods.includes(f.method)) return false;
    if (this.#hostRegex !== null && !this.#hostRegex.test(f.host)) return false;
    if (this.#pathRegex !== null && !this.#pathRegex.test(f.path())) return false;
    if (this.#sniExact !== null) {
      const sni = f.sni;
      if (sni === null || (!this.#sniExact.has(sni) && longestSuffix(sni, this.#sniSuffixes!) === undefined)) return false;
    }
    if (this.#sniRegex !== null && (f.sni === null || !this.#sniRegex.test(f.sni))) return false;
    const headers = this.#headers;
    if (headers !== null) for (const h of headers) if (!headerHolds(f.fields, h)) return false;
    const query = this.#query;
    if (query !== null) {
      if (f.pathEnd === f.target.length) return false;
      for (const q of query) if (!queryHolds(f.target, f.pathEnd + 1, q)) return false;
    }
    if (this.#networks !== null) {
      const address = f.address();
      if (address === null || !inNetworks(address, this.#networks)) return false;
    }
    return true;
  }
}

// The route table against a plain reading of the rules: for random routes and requests with odd
// bytes (hosts and paths mutated, headers, queries, client addresses, server names), the table's
// answer (the first route whose conditions all hold, or none) is the one a route-by-route scan
// gives, and matching never throws. The scan below is written apart from src/routing/ on
// purpose: it shares no code with the maps, trie and bit sets it checks.

import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import ipaddr from 'ipaddr.js';
import type { RouteConfig, RouteMatchConfig } from '../../src/config/routes-types.ts';
import { RouteTable, type RoutedRequest } from '../../src/routing/route-table.ts';
import { Fuzzer, fuzz, fuzzCount } from '../helpers/fuzz.ts';

const HOSTS = ['a.example.com', 'b.example.com', '*.example.com', '*.b.example.com', 'x.y', '[::1]', '10.0.0.1'];
const PATHS = ['/', '/a', '/a/', '/a/b', '/api', '/api/', '/api/v1', '/static/'];
const METHODS = ['GET', 'POST', 'PUT'];
const REGEXES = ['^/a', 'b$', '^[a-z.]+$', '\\.com$', '^/api/v[0-9]'];
const HEADERS = ['x-env', 'x-ver', 'accept'];
const VALUES = ['canary', '2.0', 'text/html', ''];
const NETWORKS = ['10.0.0.0/8', '10.1.0.0/16', '127.0.0.1/32', '2001:db8::/32', '::1/128', '192.168.0.0/17', '::/0', '0.0.0.0/0', '::ffff:a00:0/104', '::ffff:0:0/95'];
const CLIENTS = ['10.1.2.3', '10.2.0.1', '127.0.0.1', '2001:db8::5', '2001:db9::5', '::1', '::ffff:10.1.2.3', '192.168.127.255', '192.168.128.0', 'unknown'];
const SNIS = ['a.example.com', 'x.b.example.com', 'b.example.com', null];

/** Some of the items, maybe none. */
function some<T>(f: Fuzzer, items: readonly T[], chance = 0.3): T[] {
  return f.random() < chance ? items.filter(() => f.random() < 0.35) : [];
}

function randomMatch(f: Fuzzer): RouteMatchConfig {
  const usePaths = f.random() < 0.5;
  return {
    hosts: some(f, HOSTS, 0.6),
    hostRegex: f.random() < 0.1 ? f.pick(REGEXES) : null,
    paths: usePaths ? some(f, PATHS, 0.6) : [],
    pathPrefixes: usePaths ? [] : some(f, PATHS, 0.6),
    pathRegex: f.random() < 0.1 ? f.pick(REGEXES) : null,
    methods: some(f, METHODS, 0.2),
    headers: some(f, HEADERS, 0.15).map((name) => {
      const kind = f.pick(['present', 'equal', 'regex'] as const);
      return { name, kind, value: kind === 'present' ? '' : kind === 'equal' ? f.pick(VALUES) : f.pick(['^c', '0$', 'html']) };
    }),
    query: some(f, ['a', 'debug', 'lang'], 0.15).map((name) => ({ name, value: f.random() < 0.5 ? null : f.pick(['1', 'en', '']) })),
    clientNetworks: some(f, NETWORKS, 0.2),
    sni: some(f, ['a.example.com', '*.b.example.com'], 0.1),
    sniRegex: f.random() < 0.1 ? f.pick(REGEXES) : null,
  };
}

function randomRoutes(f: Fuzzer): RouteConfig[] {
  const n = 1 + f.int(f.random() < 0.2 ? 80 : 12);
  return Array.from({ length: n }, (_, i): RouteConfig => ({ name: `r${i}`, match: randomMatch(f), action: { kind: 'deny' }, access: null }));
}

interface Request extends RoutedRequest {
  client: string;
  sni: string | null;
}

function randomRequest(f: Fuzzer): Request {
  const hostText = f.random() < 0.1 ? null : f.pick(HOSTS.filter((h) => !h.startsWith('*.')).concat(['A.Example.COM:8080', 'x.a.example.com', 'q.b.example.com.', '[::1]:80', 'b.example.com:']));
  const host = hostText === null || f.random() < 0.7 ? hostText : f.mutate(Buffer.from(hostText, 'latin1'), ['.', ':', '*', '[', ']', '..']).toString('latin1');
  let target = f.pick(PATHS);
  if (f.random() < 0.3) target = f.mutate(Buffer.from(target, 'latin1'), ['/', '?', '&', '=', '%2F', 'api']).toString('latin1');
  if (f.random() < 0.3) target += f.pick(['?a', '?a=1', '?debug&lang=en', '?lang=en&a=', '?', '?&&=']);
  const fields = some(f, HEADERS, 0.5).map((name) => `${f.random() < 0.5 ? name.toUpperCase() : name}:${f.pick([' ', '', '\t'])}${f.pick(VALUES)}${f.pick(['', ' '])}\r\n`).join('');
  const client = f.random() < 0.9 ? f.pick(CLIENTS) : f.mutate(Buffer.from(f.pick(CLIENTS), 'latin1'), [':', '.', '::']).toString('latin1');
  return { host, target, method: f.pick(METHODS), fields, client, sni: f.pick(SNIS) };
}

/** The Host the request parser accepts (request-head.ts): an IP literal or a reg-name, then a port. */
const PARSED_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]*)(?::\d{0,5})?$/;

// ---- the rules, read plainly -------------------------------------------------------------

function plainHost(host: string | null): string {
  if (host === null) return '';
  let h = host.toLowerCase();
  if (h.startsWith('[')) h = h.slice(0, h.indexOf(']') + 1);
  else if (h.includes(':')) h = h.slice(0, h.indexOf(':'));
  return h.length > 1 && h.endsWith('.') ? h.slice(0, -1) : h;
}

function nameMatches(name: string, pattern: string): boolean {
  if (!pattern.startsWith('*.')) return name === pattern;
  return name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
}

function headerLines(fields: string): [string, string][] {
  return fields.split('\r\n').filter((l) => l !== '').map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).replace(/^[ \t]+|[ \t]+$/g, '')]);
}

function inNetwork(client: string, cidr: string): boolean {
  let address: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(client);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) address = (address as ipaddr.IPv6).toIPv4Address();
  let [net, bits] = ipaddr.parseCIDR(cidr);
  // ::ffff:a.b.c.d/96+n is the IPv4 network a.b.c.d/n (as access lists read it)
  if (net.kind() === 'ipv6' && bits >= 96 && (net as ipaddr.IPv6).isIPv4MappedAddress()) [net, bits] = [(net as ipaddr.IPv6).toIPv4Address(), bits - 96];
  return address.kind() === net.kind() && address.match(net, bits);
}

function holds(m: RouteMatchConfig, r: Request): boolean {
  const host = plainHost(r.host);
  const q = r.target.indexOf('?');
  const path = q === -1 ? r.target : r.target.slice(0, q);
  if ((m.hosts.length > 0 || m.hostRegex !== null) && host === '') return false;
  if (m.hosts.length > 0 && !m.hosts.some((p) => nameMatches(host, p))) return false;
  if (m.hostRegex !== null && !new RegExp(m.hostRegex).test(host)) return false;
  if (m.paths.length > 0 && !m.paths.includes(path)) return false;
  if (m.pathPrefixes.length > 0 && !m.pathPrefixes.some((p) => path.startsWith(p))) return false;
  if (m.pathRegex !== null && !new RegExp(m.pathRegex).test(path)) return false;
  if (m.methods.length > 0 && !m.methods.includes(r.method)) return false;
  const lines = headerLines(r.fields);
  for (const h of m.headers) {
    const ok = lines.some(([name, value]) => name === h.name && (h.kind === 'present' || (h.kind === 'equal' ? value === h.value : new RegExp(h.value).test(value))));
    if (!ok) return false;
  }
  if (m.query.length > 0) {
    if (q === -1) return false;
    const params = r.target.slice(q + 1).split('&').map((p) => (p.includes('=') ? [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)] : [p, '']));
    for (const c of m.query) if (!params.some(([n, v]) => n === c.name && (c.value === null || v === c.value))) return false;
  }
  // an address with a zone (fe80::1%eth0) is in no network
  if (m.clientNetworks.length > 0 && (isIP(r.client) === 0 || r.client.includes('%') || !m.clientNetworks.some((n) => inNetwork(r.client, n)))) return false;
  if (m.sni.length > 0 && (r.sni === null || !m.sni.some((p) => nameMatches(r.sni!, p)))) return false;
  if (m.sniRegex !== null && (r.sni === null || !new RegExp(m.sniRegex).test(r.sni))) return false;
  return true;
}

function scan(routes: readonly RouteConfig[], r: Request): number {
  return routes.findIndex((route) => holds(route.match, r));
}

describe('route table', () => {
  it('answers as a route-by-route scan, for odd hosts, paths, fields and clients, and never throws', () => {
    const tables = fuzzCount(300);
    let compared = 0;
    // each case is a seed: the routes and the requests tried on them come from it
    fuzz(0x7a11e5, tables, (f) => Buffer.from(String(f.int(2 ** 31))), (seed) => {
      const g = new Fuzzer(Number(seed.toString()));
      const routes = randomRoutes(g);
      const table = new RouteTable(routes);
      for (let i = 0; i < 100; i++) {
        const r = randomRequest(g);
        const got = table.match(r, r.client, r.sni);
        assert.ok(got >= -1 && got < routes.length);
        // compared where the request is one the parser lets through (its Host grammar), from a
        // client that is an address or `unknown` (the scan reads addresses with node:net)
        if (r.host !== null && !PARSED_HOST.test(r.host)) continue;
        if (isIP(r.client) === 0 && r.client !== 'unknown') continue;
        assert.equal(got, scan(routes, r), `routes ${JSON.stringify(routes.map((x) => x.match))}\nrequest ${JSON.stringify(r)}`);
        compared++;
      }
    });
    assert.ok(compared > tables * 50);
  });

  it('takes the first route in file order among those the host and path allow', () => {
    const m = (over: Partial<RouteMatchConfig>): RouteMatchConfig => ({ ...randomMatchEmpty(), ...over });
    const routes: RouteConfig[] = [
      { name: 'wild', match: m({ hosts: ['*.example.com'], pathPrefixes: ['/a/'] }), action: { kind: 'deny' }, access: null },
      { name: 'exact', match: m({ hosts: ['www.example.com'] }), action: { kind: 'deny' }, access: null },
      { name: 'long', match: m({ pathPrefixes: ['/a/b/'] }), action: { kind: 'deny' }, access: null },
      { name: 'short', match: m({ pathPrefixes: ['/a'] }), action: { kind: 'deny' }, access: null },
    ];
    const table = new RouteTable(routes);
    const at = (host: string, target: string): number => table.match({ host, target, method: 'GET', fields: '' }, '127.0.0.1', null);
    assert.equal(at('www.example.com', '/a/b/c'), 0);
    assert.equal(at('www.example.com', '/b'), 1);
    assert.equal(at('other.test', '/a/b/c'), 2);
    assert.equal(at('other.test', '/ab'), 3);
    assert.equal(at('other.test', '/b'), -1);
    assert.equal(at('example.com', '/a/x'), 3);
  });
});

function randomMatchEmpty(): RouteMatchConfig {
  return { hosts: [], hostRegex: null, paths: [], pathPrefixes: [], pathRegex: null, methods: [], headers: [], query: [], clientNetworks: [], sni: [], sniRegex: null };
}

// Addresses as written in the file: `host:port`, where host is an IPv4 address or a hostname,
// or `[v6]:port`. Brackets are required for IPv6 because `2001:db8::1:80` could be read as a
// host with port 80 or as an address with no port at all.

import { isIP, isIPv4, isIPv6 } from 'node:net';
import { canonicalAddress } from '../ip-text.ts';
import { expected, fail, ok, type Parsed } from './issues.ts';

/** host is an IP literal or a hostname, without brackets; ip is filled in when the host is resolved. */
export interface Address {
  host: string;
  port: number;
  ip?: string;
}

const FORM = 'host:port (IPv6 in brackets)';
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

export interface AddressRules {
  /** listeners may use port 0 (an ephemeral port, as tests do); members need a real one */
  allowPortZero: boolean;
}

export function parseAddress(input: unknown, rules: AddressRules): Parsed<Address> {
  if (typeof input !== 'string') return fail(expected(FORM, input));
  const split = splitHostPort(input);
  if (!split.ok) return split;
  const { host, port } = split.value;

  const hostProblem = checkHost(host);
  if (hostProblem !== undefined) return fail(hostProblem);
  const portNumber = parsePort(port, rules);
  if (!portNumber.ok) return portNumber;

  // An IP literal is its own resolution; only hostnames wait for the DNS step of loadConfig.
  const address: Address = { host, port: portNumber.value };
  if (isIP(host) !== 0) address.ip = host;
  return ok(address);
}

/** The canonical text of an address; also the default id of a member. */
export function formatAddress(address: Address): string {
  return hostPort(address.host, address.port);
}

/** `host:port`, with an IPv6 host in brackets (`[2001:db8::1]:80`), as the file, logs and nftables write it. */
export function hostPort(host: string, port: number): string {
  return `${uriHost(host)}:${port}`;
}

/** A host as a URI or a Host header writes it without a port: an IPv6 literal in brackets (RFC 3986). */
export function uriHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** True for the addresses that bind every interface of their family. */
export function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || canonicalIPv6(ip) === '::';
}

/** `0:0::1` and `::1` are the same address; compare them in one spelling. */
export function canonicalIP(ip: string): string {
  return isIPv6(ip) ? canonicalIPv6(ip) : ip;
}

function canonicalIPv6(ip: string): string {
  // zone ids (fe80::1%eth0) are no address bytes: leave them as written
  return canonicalAddress(ip, 6) ?? ip;
}

function splitHostPort(input: string): Parsed<{ host: string; port: string }> {
  if (input.startsWith('[')) {
    const match = /^\[([^\]]*)\]:([^:]*)$/.exec(input);
    if (match === null) return fail(expected(FORM, input));
    if (!isIPv6(match[1])) return fail(expected('an IPv6 address inside the brackets', input));
    return ok({ host: match[1], port: match[2] });
  }
  const colons = input.split(':').length - 1;
  if (colons === 0) return fail(expected(FORM, input));
  if (colons > 1) return fail(expected('host:port with an IPv6 host in brackets, like [2001:db8::1]:80', input));
  const [host, port] = input.split(':');
  if (host === '') return fail(`${expected(FORM, input)} (0.0.0.0${input} listens on every IPv4 address)`);
  return ok({ host, port });
}

function checkHost(host: string): string | undefined {
  if (isIP(host) !== 0) return undefined; // IPv6 only gets here from inside brackets
  const labels = (host.endsWith('.') ? host.slice(0, -1) : host).split('.');
  // A name whose last label is all digits is a mistyped IPv4 address (999.0.0.1), not a hostname.
  if (/^\d+$/.test(labels[labels.length - 1])) return expected('an IPv4 address or a hostname', host);
  if (host.length > 253 || !labels.every((label) => LABEL.test(label))) {
    return expected('an IPv4 address or a hostname', host);
  }
  return undefined;
}

function parsePort(text: string, rules: AddressRules): Parsed<number> {
  const min = rules.allowPortZero ? 0 : 1;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= min && port <= 65535)) return fail(expected(`a port from ${min} to 65535`, text));
  return ok(port);
}

// conntrack, the kernel's connection table, read and trimmed with the conntrack tool (1.4.x).
// Its default text output has one line per connection:
//
//   tcp 6 431999 ESTABLISHED src=10.1.1.1 dst=192.168.1.100 sport=50000 dport=80 [packets=4 bytes=216]
//       src=192.168.1.1 dst=10.1.1.1 sport=80 dport=50000 [packets=4 bytes=219] [ASSURED] mark=0
//       [delta-time=12] use=1 id=3611199402
//
// The first tuple is the connection as the client sent it (client -> VIP), the second as the
// reply comes back (member -> client, or member -> balancer with full-NAT): the classic NAT picture
// of a translated connection. packets/bytes appear with net.netfilter.nf_conntrack_acct=1,
// delta-time (seconds since the connection began) with nf_conntrack_timestamp=1.

import { isIP } from 'node:net';
import { exec, ExecError } from './exec.ts';

/** A longer line is not conntrack's: the parser skips it rather than grow without bound. */
const MAX_LINE = 4096;

export interface Tuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  packets: number | null;
  bytes: number | null;
}

export interface ConntrackEntry {
  protocol: string;
  /** seconds until conntrack forgets the connection */
  timeout: number;
  /** tcp's state (ESTABLISHED, TIME_WAIT, ...); udp has none: UNREPLIED or ASSURED from the flags */
  state: string;
  original: Tuple;
  reply: Tuple;
  /** conntrack's id of the entry; 0 when not shown */
  id: number;
  /** seconds since the connection began; null without nf_conntrack_timestamp */
  age: number | null;
}

/** What one line of a listing says, read into one record reused from line to line. */
export interface ConntrackLine {
  protocol: string;
  timeout: number;
  /** tcp's state token; null when the line has none (udp) */
  state: string | null;
  unreplied: boolean;
  assured: boolean;
  original: Tuple;
  reply: Tuple;
  id: number;
  age: number | null;
  /** conntrack's mark (32 bits); 0 when not shown */
  mark: number;
}

/**
 * Calls `visit` for each connection of conntrack's listing. One record serves every line (a
 * large table lists 100k lines and more): `visit` reads it and must not keep it. Lines that are
 * not a connection with two complete tuples (ports 0-65535) are skipped.
 */
export function scanConntrack(text: string, visit: (line: Readonly<ConntrackLine>) => void): void {
  const record = conntrackLine();
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (end - start <= MAX_LINE && readLine(text.slice(start, end), record)) visit(record);
    start = end + 1;
  }
}

export function parseConntrack(text: string): ConntrackEntry[] {
  const entries: ConntrackEntry[] = [];
  scanConntrack(text, (l) => {
    entries.push({
      protocol: l.protocol,
      timeout: l.timeout,
      state: l.state ?? (l.unreplied ? 'UNREPLIED' : l.assured ? 'ASSURED' : 'NEW'),
      original: { ...l.original },
      reply: { ...l.reply },
      id: l.id,
      age: l.age,
    });
  });
  return entries;
}

/** An empty record for readConntrackLine. */
export function conntrackLine(): ConntrackLine {
  return { protocol: '', timeout: 0, state: null, unreplied: false, assured: false, original: tuple(), reply: tuple(), id: 0, age: null, mark: 0 };
}

/**
 * One line of `conntrack -E` (`[DESTROY] tcp 6 ...`: the event's tag, then a listing's line) into
 * `r`; false when it is not a connection with two complete tuples, or longer than a line can be.
 */
export function readEventLine(line: string, r: ConntrackLine): boolean {
  if (line.length > MAX_LINE) return false;
  const tag = line.indexOf(']');
  return tag !== -1 && line.charCodeAt(0) === 0x5b /* [ */ && readLine(line.slice(tag + 1), r);
}

function tuple(): Tuple {
  return { src: '', dst: '', sport: -1, dport: -1, packets: null, bytes: null };
}

function clear(t: Tuple): void {
  t.src = '';
  t.dst = '';
  t.sport = -1;
  t.dport = -1;
  t.packets = null;
  t.bytes = null;
}

/** `tcp 6 431999 ESTABLISHED src=... dst=... sport=... dport=... [UNREPLIED] src=... ...` into `r`. */
function readLine(line: string, r: ConntrackLine): boolean {
  const tokens = line.trim().split(/\s+/);
  if (tokens.length < 4) return false;
  const timeout = digits(tokens[2]);
  if (digits(tokens[1]) === -1 || timeout === -1) return false;
  r.protocol = tokens[0];
  r.timeout = timeout;
  r.state = null;
  r.unreplied = false;
  r.assured = false;
  r.id = 0;
  r.age = null;
  r.mark = 0;
  clear(r.original);
  clear(r.reply);
  // the tuple the keys apply to: 1 the original, 2 the reply; past them (no such line) none
  let tuples = 0;
  for (let i = 3; i < tokens.length; i++) {
    const token = tokens[i];
    if (token.charCodeAt(0) === 0x5b /* [ */) {
      if (token === '[UNREPLIED]') r.unreplied = true;
      else if (token === '[ASSURED]') r.assured = true;
      continue;
    }
    const eq = token.indexOf('=');
    if (eq === -1) {
      r.state ??= token;
      continue;
    }
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (key === 'src') tuples++;
    const t = tuples === 1 ? r.original : tuples === 2 ? r.reply : null;
    if (key === 'id') r.id = Math.max(0, digits(value));
    else if (key === 'delta-time') r.age = nullable(digits(value));
    else if (key === 'mark') r.mark = Math.max(0, digits(value)) % 0x100000000;
    else if (t === null) continue;
    else if (key === 'src') t.src = value;
    else if (key === 'dst') t.dst = value;
    else if (key === 'sport') t.sport = port(value);
    else if (key === 'dport') t.dport = port(value);
    else if (key === 'packets') t.packets = nullable(digits(value));
    else if (key === 'bytes') t.bytes = nullable(digits(value));
  }
  return tuples >= 2 && complete(r.original) && complete(r.reply);
}

function complete(t: Tuple): boolean {
  return t.src !== '' && t.dst !== '' && t.sport !== -1 && t.dport !== -1;
}

/** A decimal number of at most 15 digits (exact as a double); -1 when it is not one. */
function digits(s: string): number {
  if (s.length === 0 || s.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function port(s: string): number {
  const n = digits(s);
  return n > 65535 ? -1 : n;
}

function nullable(n: number): number | null {
  return n === -1 ? null : n;
}

export interface ConntrackMatch {
  protocol: string;
  /** the VIP and port the client connected to */
  vip: string;
  port: number;
}

/** What a listing asks the kernel for; each part left out widens it. */
export interface ListingFilter {
  family?: 'ipv4' | 'ipv6';
  protocol?: string;
  /** the address the client connected to */
  vip?: string;
  port?: number;
  /** show conntrack's id of each entry */
  ids?: boolean;
}

/**
 * conntrack's listing as text. The kernel walks its whole table for every listing, whatever the
 * filter: the filter only makes the answer shorter. Without a family both are listed.
 */
export async function listing(conntrack: string, filter: ListingFilter): Promise<string> {
  const args = filter.ids === true ? ['-L', '-o', 'id'] : ['-L'];
  if (filter.family !== undefined) args.push('-f', filter.family);
  if (filter.protocol !== undefined) args.push('-p', filter.protocol);
  if (filter.vip !== undefined) args.push('--orig-dst', filter.vip);
  if (filter.port !== undefined) args.push('--orig-port-dst', String(filter.port));
  return (await exec(conntrack, args)).stdout;
}

/** The connections addressed to one VIP:port, as conntrack holds them now. */
export async function listConnections(conntrack: string, match: ConntrackMatch): Promise<ConntrackEntry[]> {
  const family = match.vip.includes(':') ? 'ipv6' : 'ipv4';
  return parseConntrack(await listing(conntrack, { family, protocol: match.protocol, vip: match.vip, port: match.port, ids: true }));
}

/**
 * Deletes the connections of one VIP:port that were translated to one member. The next packet
 * of such a connection finds no entry: the service's rules send it to a member that has no
 * socket for it, which resets it. Returns how many were deleted.
 */
export async function deleteConnections(conntrack: string, match: ConntrackMatch, member: { ip: string; port: number }): Promise<number> {
  const args = [
    '-D', '-p', match.protocol, '--orig-dst', match.vip, '--orig-port-dst', String(match.port),
    '--reply-src', member.ip, '--reply-port-src', String(member.port),
  ];
  if (match.vip.includes(':')) args.splice(1, 0, '-f', 'ipv6');
  return deleted(conntrack, args);
}

/** One connection as the client sent it: protocol, client address:port -> VIP:port. */
export interface OriginalTuple {
  protocol: string;
  src: string;
  sport: number;
  dst: string;
  dport: number;
}

/**
 * Deletes the one connection whose original tuple is `t` (conntrack 1.4.7 cannot delete by id).
 * The tuple is checked before it reaches the command line: tcp or udp, addresses of one family,
 * ports 1-65535. Returns how many entries were deleted (0 when it had ended meanwhile).
 */
export async function deleteConnection(conntrack: string, t: OriginalTuple): Promise<number> {
  const family = isIP(t.src);
  if ((t.protocol !== 'tcp' && t.protocol !== 'udp') || family === 0 || isIP(t.dst) !== family || !validPort(t.sport) || !validPort(t.dport)) {
    throw new Error(`not a connection conntrack can be asked to delete: ${t.protocol} ${t.src}:${t.sport} -> ${t.dst}:${t.dport}`);
  }
  const args = ['-D', '-f', family === 6 ? 'ipv6' : 'ipv4', '-p', t.protocol, '-s', t.src, '-d', t.dst, '--sport', String(t.sport), '--dport', String(t.dport)];
  return deleted(conntrack, args);
}

function validPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** Runs a `conntrack -D ...`: how many entries it deleted. */
async function deleted(conntrack: string, args: string[]): Promise<number> {
  try {
    const { stderr } = await exec(conntrack, args);
    return Number(/(\d+) flow entries have been deleted/.exec(stderr)?.[1] ?? 0);
  } catch (err) {
    // conntrack exits 1 when nothing matched; that is not a failure here.
    if (err instanceof ExecError && /\b0 flow entries have been deleted/.test(err.stderr)) return 0;
    throw err;
  }
}

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

export function parseConntrack(text: string): ConntrackEntry[] {
  const entries: ConntrackEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.length > MAX_LINE) continue;
    const entry = parseLine(line.trim());
    if (entry !== null) entries.push(entry);
  }
  return entries;
}

function parseLine(line: string): ConntrackEntry | null {
  const tokens = line.split(/\s+/);
  if (tokens.length < 4 || !/^\d+$/.test(tokens[1]) || !/^\d+$/.test(tokens[2])) return null;
  const tuples: Partial<Tuple>[] = [];
  const flags: string[] = [];
  let state: string | null = null;
  let id = 0;
  let age: number | null = null;
  for (const token of tokens.slice(3)) {
    if (token.startsWith('[')) {
      flags.push(token.slice(1, -1));
      continue;
    }
    const eq = token.indexOf('=');
    if (eq === -1) {
      state ??= token;
      continue;
    }
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (key === 'src') tuples.push({ src: value });
    const current = tuples.at(-1);
    if (key === 'dst' && current !== undefined) current.dst = value;
    else if ((key === 'sport' || key === 'dport' || key === 'packets' || key === 'bytes') && current !== undefined) current[key] = Number(value);
    else if (key === 'id') id = Number(value);
    else if (key === 'delta-time') age = Number(value);
  }
  if (tuples.length < 2) return null;
  const [original, reply] = tuples.map(complete);
  if (original === null || reply === null) return null;
  return {
    protocol: tokens[0],
    timeout: Number(tokens[2]),
    state: state ?? (flags.includes('UNREPLIED') ? 'UNREPLIED' : flags.includes('ASSURED') ? 'ASSURED' : 'NEW'),
    original,
    reply,
    id,
    age,
  };
}

function complete(t: Partial<Tuple>): Tuple | null {
  if (t.src === undefined || t.dst === undefined || t.sport === undefined || t.dport === undefined) return null;
  return { src: t.src, dst: t.dst, sport: t.sport, dport: t.dport, packets: t.packets ?? null, bytes: t.bytes ?? null };
}

export interface ConntrackMatch {
  protocol: string;
  /** the VIP and port the client connected to */
  vip: string;
  port: number;
}

/** The connections addressed to one VIP:port, as conntrack holds them now. */
export async function listConnections(conntrack: string, match: ConntrackMatch): Promise<ConntrackEntry[]> {
  const args = ['-L', '-o', 'id', '-p', match.protocol, '--orig-dst', match.vip, '--orig-port-dst', String(match.port)];
  if (match.vip.includes(':')) args.splice(1, 0, '-f', 'ipv6');
  const { stdout } = await exec(conntrack, args);
  return parseConntrack(stdout);
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
  try {
    const { stderr } = await exec(conntrack, args);
    return Number(/(\d+) flow entries have been deleted/.exec(stderr)?.[1] ?? 0);
  } catch (err) {
    // conntrack exits 1 when nothing matched; that is not a failure here.
    if (err instanceof ExecError && /\b0 flow entries have been deleted/.test(err.stderr)) return 0;
    throw err;
  }
}

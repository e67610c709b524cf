// The process's raw ICMP sockets, shared by every icmp monitor: one for IPv4 (opened by the first
// monitor, so a missing privilege is reported at startup), one for ICMPv6 (opened by the first
// IPv6 check). Reference counted: closed when the last monitor closes.
//
// A raw ICMP socket receives every ICMP message the host gets, so each echo request carries an
// identifier/sequence pair unique among those in flight, and an answer is accepted only when it
// matches that pair AND comes from the address we asked (for an echo reply), or quotes our
// request to that address (for an error such as host unreachable).

import { createRequire } from 'node:module';
import { ipBytes, ipText, sameAddress, wireFamily } from './proto-ip.ts';

interface RawSocket {
  on(event: 'message', listener: (buffer: Buffer, source: string) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  send(buffer: Buffer, offset: number, length: number, address: string, done: (err: Error | null, bytes: number) => void): void;
  setOption(level: number, option: number, value: number): void;
  close(): void;
}

interface RawSocketModule {
  createSocket(options: { protocol: number; addressFamily: number; bufferSize?: number }): RawSocket;
  createChecksum(...buffers: Buffer[]): number;
  writeChecksum(buffer: Buffer, offset: number, checksum: number): Buffer;
  Protocol: { ICMP: number; ICMPv6: number };
  AddressFamily: { IPv4: number; IPv6: number };
  SocketLevel: { SOL_SOCKET: number };
  SocketOption: { SO_RCVBUF: number };
}

export const RAW_SOCKET_DENIED =
  'icmp monitor needs a raw socket: run as root or grant CAP_NET_RAW (setcap cap_net_raw+ep on the node binary)';

/** What a pending echo is told: a reply, or why not. */
export interface EchoHandlers {
  reply(): void;
  fail(reason: string): void;
}

export interface IcmpLease {
  /** sends one echo request to `ip`; returns a cancel function (idempotent) */
  echo(ip: string, handlers: EchoHandlers): () => void;
  /** gives the lease back; the last one closes the sockets (idempotent) */
  release(): void;
}

interface Pending {
  family: 4 | 6;
  ip: string;
  handlers: EchoHandlers;
}

const ECHO_PAYLOAD = Buffer.from('furiwake health', 'latin1');
const RECEIVE_BUFFER = 1 << 20; // many members answer in the same millisecond

let raw: RawSocketModule | null = null;
let users = 0;
let v4: RawSocket | null = null;
let v6: RawSocket | null = null;
const pending = new Map<string, Pending>();
// identifier (high 16 bits) and sequence (low 16 bits) of the next request
let next = Math.floor(Math.random() * 0x1_0000_0000);

function key(family: 4 | 6, id: number, seq: number): string {
  return `${family}:${id}:${seq}`;
}

function loadRaw(): RawSocketModule {
  if (raw === null) {
    try {
      raw = createRequire(import.meta.url)('raw-socket') as RawSocketModule;
    } catch (err) {
      throw new Error(`icmp monitor needs the raw-socket package (a native module): ${(err as Error).message}`);
    }
  }
  return raw;
}

function open(family: 4 | 6): RawSocket {
  const lib = loadRaw();
  let socket: RawSocket;
  try {
    socket = lib.createSocket(
      family === 4
        ? { protocol: lib.Protocol.ICMP, addressFamily: lib.AddressFamily.IPv4 }
        : { protocol: lib.Protocol.ICMPv6, addressFamily: lib.AddressFamily.IPv6 },
    );
  } catch (err) {
    const message = (err as Error).message;
    if (/not permitted|permission denied|EPERM|EACCES/i.test(message)) throw new Error(RAW_SOCKET_DENIED);
    throw new Error(`icmp monitor cannot open a raw ${family === 4 ? 'ICMP' : 'ICMPv6'} socket: ${message}`);
  }
  try {
    socket.setOption(lib.SocketLevel.SOL_SOCKET, lib.SocketOption.SO_RCVBUF, RECEIVE_BUFFER);
  } catch {
    // the default buffer still works, only bursts may drop
  }
  socket.on('message', family === 4 ? onMessage4 : onMessage6);
  socket.on('error', (err) => {
    // raw-socket closes the socket after an error: fail what waits on it, reopen on next use
    if (family === 4) v4 = null;
    else v6 = null;
    for (const [k, p] of pending) {
      if (p.family !== family) continue;
      pending.delete(k);
      p.handlers.fail(`raw socket error: ${err.message}`);
    }
  });
  return socket;
}

function settle(k: string, from: string | null, outcome: (p: Pending) => void): void {
  const p = pending.get(k);
  if (p === undefined) return;
  if (from !== null && !sameAddress(from, p.ip)) return;
  pending.delete(k);
  outcome(p);
}

// IPv4: the raw socket gives the whole IP datagram.
function onMessage4(packet: Buffer, source: string): void {
  if (packet.length < 20) return;
  const ihl = (packet[0] & 0x0f) * 4;
  const icmp = packet.subarray(ihl);
  if (icmp.length < 8 || loadRaw().createChecksum(icmp) !== 0) return;
  const type = icmp[0];
  if (type === 0) {
    settle(key(4, icmp.readUInt16BE(4), icmp.readUInt16BE(6)), source, (p) => p.handlers.reply());
    return;
  }
  const reason = icmp4Error(type, icmp[1]);
  if (reason === null) return;
  // the error quotes our request: its IP header, then at least 8 bytes of our ICMP header
  const quoted = icmp.subarray(8);
  if (quoted.length < 20 || quoted[9] !== 1) return;
  const qihl = (quoted[0] & 0x0f) * 4;
  const request = quoted.subarray(qihl);
  if (request.length < 8 || request[0] !== 8) return;
  const k = key(4, request.readUInt16BE(4), request.readUInt16BE(6));
  const p = pending.get(k);
  if (p === undefined || !sameAddress(ipText(quoted.subarray(16, 20)), p.ip)) return;
  settle(k, null, (q) => q.handlers.fail(reason));
}

// IPv6: the raw socket gives the ICMPv6 message only (the kernel checked its checksum).
function onMessage6(icmp: Buffer, source: string): void {
  if (icmp.length < 8) return;
  const type = icmp[0];
  if (type === 129) {
    settle(key(6, icmp.readUInt16BE(4), icmp.readUInt16BE(6)), source, (p) => p.handlers.reply());
    return;
  }
  const reason = icmp6Error(type, icmp[1]);
  if (reason === null) return;
  // quoted: our IPv6 header (40 bytes, next header 58 = ICMPv6), then our echo request
  const quoted = icmp.subarray(8);
  if (quoted.length < 48 || quoted[6] !== 58 || quoted[40] !== 128) return;
  const k = key(6, quoted.readUInt16BE(44), quoted.readUInt16BE(46));
  const p = pending.get(k);
  if (p === undefined || !sameAddress(ipText(quoted.subarray(24, 40)), p.ip)) return;
  settle(k, null, (q) => q.handlers.fail(reason));
}

const UNREACHABLE4: Record<number, string> = {
  0: 'ICMP network unreachable',
  1: 'ICMP host unreachable',
  2: 'ICMP protocol unreachable',
  3: 'ICMP port unreachable',
  4: 'ICMP fragmentation needed',
  5: 'ICMP source route failed',
  6: 'ICMP destination network unknown',
  7: 'ICMP destination host unknown',
  8: 'ICMP source host isolated',
  9: 'ICMP network administratively prohibited',
  10: 'ICMP host administratively prohibited',
  11: 'ICMP network unreachable for TOS',
  12: 'ICMP host unreachable for TOS',
  13: 'ICMP communication administratively prohibited',
  14: 'ICMP host precedence violation',
  15: 'ICMP precedence cutoff in effect',
};

/** The reason for an ICMP error that ends a check; null for messages that do not (redirects, ...). */
function icmp4Error(type: number, code: number): string | null {
  switch (type) {
    case 3:
      return UNREACHABLE4[code] ?? `ICMP destination unreachable (code ${code})`;
    case 11:
      return code === 1 ? 'ICMP fragment reassembly time exceeded' : 'ICMP time exceeded (TTL expired in transit)';
    case 12:
      return 'ICMP parameter problem';
    default:
      return null;
  }
}

const UNREACHABLE6: Record<number, string> = {
  0: 'ICMPv6 no route to destination',
  1: 'ICMPv6 communication administratively prohibited',
  2: 'ICMPv6 beyond scope of source address',
  3: 'ICMPv6 address unreachable',
  4: 'ICMPv6 port unreachable',
  5: 'ICMPv6 source address failed ingress/egress policy',
  6: 'ICMPv6 reject route to destination',
};

function icmp6Error(type: number, code: number): string | null {
  switch (type) {
    case 1:
      return UNREACHABLE6[code] ?? `ICMPv6 destination unreachable (code ${code})`;
    case 2:
      return 'ICMPv6 packet too big';
    case 3:
      return code === 1 ? 'ICMPv6 fragment reassembly time exceeded' : 'ICMPv6 hop limit exceeded in transit';
    case 4:
      return 'ICMPv6 parameter problem';
    default:
      return null;
  }
}

/** The next identifier/sequence pair not used by a request in flight. */
function allocate(family: 4 | 6): { id: number; seq: number } {
  for (;;) {
    next = (next + 1) >>> 0;
    const id = next >>> 16;
    const seq = next & 0xffff;
    if (!pending.has(key(family, id, seq))) return { id, seq };
  }
}

function echoRequest(family: 4 | 6, id: number, seq: number): Buffer {
  const packet = Buffer.alloc(8 + ECHO_PAYLOAD.length);
  packet[0] = family === 4 ? 8 : 128;
  packet.writeUInt16BE(id, 4);
  packet.writeUInt16BE(seq, 6);
  ECHO_PAYLOAD.copy(packet, 8);
  // ICMPv6: the kernel fills the checksum (it covers the IPv6 pseudo-header)
  if (family === 4) loadRaw().writeChecksum(packet, 2, loadRaw().createChecksum(packet));
  return packet;
}

/** Takes a share of the raw sockets, opening the IPv4 one if needed; throws RAW_SOCKET_DENIED without the privilege. */
export function acquireIcmp(): IcmpLease {
  if (v4 === null) v4 = open(4);
  users++;
  let released = false;
  return {
    echo(ip, handlers) {
      if (released) {
        handlers.fail('monitor closed');
        return () => {};
      }
      const family = wireFamily(ip);
      if (family === 0) {
        handlers.fail(`not an IP address: ${ip}`);
        return () => {};
      }
      let socket: RawSocket;
      try {
        socket = family === 4 ? (v4 ??= open(4)) : (v6 ??= open(6));
      } catch (err) {
        handlers.fail((err as Error).message);
        return () => {};
      }
      const { id, seq } = allocate(family);
      const k = key(family, id, seq);
      pending.set(k, { family, ip, handlers });
      const packet = echoRequest(family, id, seq);
      // an IPv4-mapped address is sent to as plain IPv4
      const destination = family === 4 ? ipText(ipBytes(ip)!) : ip;
      socket.send(packet, 0, packet.length, destination, (err) => {
        if (err) settle(k, null, (p) => p.handlers.fail(`send failed: ${err.message}`));
      });
      return () => {
        pending.delete(k);
      };
    },
    release() {
      if (released) return;
      released = true;
      users--;
      if (users > 0) return;
      for (const [k, p] of pending) {
        pending.delete(k);
        p.handlers.fail('monitor closed');
      }
      v4?.close();
      v6?.close();
      v4 = null;
      v6 = null;
    },
  };
}

/** How many raw ICMP sockets are open (0, 1 or 2): for tests and for leak checks. */
export function openIcmpSockets(): number {
  return (v4 === null ? 0 : 1) + (v6 === null ? 0 : 1);
}

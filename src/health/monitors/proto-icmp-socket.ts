// The process's raw ICMP sockets, shared by every icmp monitor: one for IPv4 (opened by the first
// monitor, so a missing privilege is reported at startup), one for ICMPv6 (opened by the first
// IPv6 check). Reference counted: closed when the last monitor closes.
//
// A raw ICMP socket receives every ICMP message the host gets, so each echo request carries an
// identifier/sequence pair unique among those in flight, and an answer is accepted only when it
// matches that pair AND comes from the address we asked (for an echo reply), or quotes our
// request to that address (for an error such as host unreachable).

import { createRequire } from 'node:module';
import { internetChecksum, readIcmp4, readIcmp6, type IcmpEvent } from './proto-icmp-reply.ts';
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
  Protocol: { ICMP: number; ICMPv6: number };
  AddressFamily: { IPv4: number; IPv6: number };
  SocketLevel: { SOL_SOCKET: number };
  SocketOption: { SO_RCVBUF: number };
}

export const RAW_SOCKET_DENIED =
  'icmp monitor needs a raw socket: run as root or grant CAP_NET_RAW (under systemd: AmbientCapabilities=CAP_NET_RAW; otherwise: setcap cap_net_raw+ep on the node binary)';

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

/**
 * raw-socket's native part is built by its install script, which npm runs for an installed
 * package only once the user allowed it: say exactly how, in the words npm uses.
 */
export const RAW_SOCKET_NOT_BUILT =
  'icmp monitor needs the native part of the raw-socket package, which was not built (npm runs a ' +
  "dependency's install script only once it is allowed, and installs furiwake without this optional " +
  'package when it cannot be compiled). Where furiwake was installed in a project: ' +
  '`npm install-scripts approve raw-socket && npm rebuild raw-socket`; installed globally: ' +
  '`npm install -g --allow-scripts=raw-socket furiwake`; with Node.js 24, raw-socket compiles only ' +
  'with nan 2.30 or newer (add "overrides": { "nan": "^2.30.0" } to the project\'s package.json). ' +
  'Or check these members with a tcp monitor instead';

function loadRaw(): RawSocketModule {
  if (raw === null) {
    try {
      raw = createRequire(import.meta.url)('raw-socket') as RawSocketModule;
    } catch (err) {
      const message = (err as Error).message;
      // the package is there but its compiled module is not: the install script did not run
      // or not there at all: an optional dependency whose build failed is left out
      if (/raw\.node|bindings|Could not locate|Cannot find module 'raw-socket'/i.test(message)) throw new Error(RAW_SOCKET_NOT_BUILT);
      throw new Error(`icmp monitor needs the raw-socket package (a native module): ${message}`);
    }
  }
  return raw;
}

/** Why the icmp monitor cannot work in this installation (raw-socket missing or not built); null when it can load. */
export function rawSocketProblem(): string | null {
  try {
    loadRaw();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
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

/** What a raw socket received: an answer settles the echo it names; anything else is dropped. */
function onEvent(family: 4 | 6, event: IcmpEvent | null, source: string): void {
  if (event === null) return;
  const k = key(family, event.id, event.seq);
  if (event.kind === 'reply') {
    settle(k, source, (p) => p.handlers.reply());
    return;
  }
  // an error must quote our request to the address we asked
  const p = pending.get(k);
  if (p === undefined || !sameAddress(event.destination, p.ip)) return;
  settle(k, null, (q) => q.handlers.fail(event.reason));
}

// IPv4: the raw socket gives the whole IP datagram; IPv6: the ICMPv6 message only (the kernel
// checked its checksum). Nothing may escape a socket callback: a reading error drops the packet.
function onMessage4(packet: Buffer, source: string): void {
  try {
    onEvent(4, readIcmp4(packet), source);
  } catch {
    // dropped, like any packet that is not an answer to us
  }
}

function onMessage6(icmp: Buffer, source: string): void {
  try {
    onEvent(6, readIcmp6(icmp), source);
  } catch {
    // dropped
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
  if (family === 4) packet.writeUInt16BE(internetChecksum(packet), 2);
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

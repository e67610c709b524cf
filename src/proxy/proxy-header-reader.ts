// Accepting the PROXY protocol (v1 text or v2 binary, told apart by their first bytes) from a
// client: a load balancer in front of furiwake says who the real client is. The header is read
// before anything else, bounded and within a timeout; the bytes after it are put back on the
// socket for whoever reads next.

import type net from 'node:net';
import type { Endpoint } from '../runtime/connection-table.ts';
import { canonicalAddress, formatIPv4, formatIPv6 } from '../ip-text.ts';
import { V2_SIGNATURE } from './proxy-protocol.ts';

/** v1: "PROXY TCP6 " + two addresses + two ports + CRLF is at most 107 bytes (the spec's bound). */
const V1_MAX = 107;
/** v2: 16 bytes of header and the addresses and TLVs it announces; TLVs past this are refused. */
const V2_MAX = 16 + 4096;

export interface ProxiedAddresses {
  source: Endpoint;
  destination: Endpoint;
}

/**
 * `addresses`: what the header says, or null when it says nothing about addresses (v1 UNKNOWN,
 * v2 LOCAL or an unspecified family: the socket's own addresses stand). `error`: why the
 * connection must be closed (no header, a malformed one, or none within the timeout).
 */
export type ProxyHeaderResult = { addresses: ProxiedAddresses | null; error: null } | { addresses: null; error: string };

export function readProxyHeader(socket: net.Socket, timeout: number, done: (result: ProxyHeaderResult) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  let finished = false;
  const finish = (result: ProxyHeaderResult, rest: Buffer | null): void => {
    if (finished) return;
    finished = true;
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('timeout', onTimeout);
    socket.off('close', onClose);
    socket.setTimeout(0);
    socket.pause();
    if (rest !== null && rest.length > 0) socket.unshift(rest);
    done(result);
  };
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const parsed = parseProxyHeader(buffered);
    if (parsed === 'more') return;
    if (parsed.error !== null) return finish({ addresses: null, error: parsed.error }, null);
    finish({ addresses: parsed.addresses, error: null }, buffered.subarray(parsed.length));
  };
  const onEnd = (): void => finish({ addresses: null, error: 'connection closed before a PROXY header' }, null);
  const onTimeout = (): void => finish({ addresses: null, error: `no PROXY header within ${timeout} ms` }, null);
  // a client that resets sends no FIN: without this its reader (and whoever waits on it) would wait for ever
  const onClose = (): void => finish({ addresses: null, error: 'connection reset before a PROXY header' }, null);
  socket.on('data', onData);
  socket.resume(); // a socket accepted paused (pauseOnConnect) would not flow for a listener alone
  socket.once('end', onEnd);
  socket.setTimeout(timeout);
  socket.once('timeout', onTimeout);
  socket.once('close', onClose);
}

/** A parse: 'more' while incomplete, the header's addresses and length, or why it is refused. */
export type Parsed = 'more' | { addresses: ProxiedAddresses | null; length: number; error: null } | { error: string };

const NOT_PROXY = { error: 'expected a PROXY protocol header' } as const;

/** One header at the start of `buf`: its addresses and length, 'more' when incomplete, or why it is bad. */
export function parseProxyHeader(buf: Buffer): Parsed {
  if (buf[0] === 0x0d) return parseV2(buf);
  if (buf[0] === 0x50) return parseV1(buf);
  return NOT_PROXY;
}

// ---- v1: "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF, or "PROXY UNKNOWN" ... CRLF

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');

function v1Malformed(why: string): { error: string } {
  return { error: `malformed PROXY v1 header: ${why}` };
}

function parseV1(buf: Buffer): Parsed {
  for (let i = 0; i < V1_PREFIX.length && i < buf.length; i++) if (buf[i] !== V1_PREFIX[i]) return NOT_PROXY;
  // The line is printable US-ASCII up to a CRLF that ends within the first 107 bytes; a bare CR
  // or LF, a NUL, a control or a non-ASCII byte is refused as soon as it arrives.
  let end = -1;
  const scan = Math.min(buf.length, V1_MAX);
  for (let i = 0; i < scan; i++) {
    const c = buf[i];
    if (c === 0x0d) {
      if (i + 1 >= V1_MAX) break;
      if (i + 1 === buf.length) return 'more';
      if (buf[i + 1] !== 0x0a) return v1Malformed('CR without LF');
      end = i;
      break;
    }
    if (c === 0x0a) return v1Malformed('LF without CR');
    if (c < 0x20 || c > 0x7e) return v1Malformed(`byte 0x${c.toString(16).padStart(2, '0')} in the line`);
  }
  if (end === -1) return buf.length >= V1_MAX ? { error: 'PROXY v1 header longer than 107 bytes' } : 'more';
  const length = end + 2;
  const words = buf.toString('latin1', V1_PREFIX.length, end).split(' ');
  // UNKNOWN: the sender could not say; what follows it on the line is ignored (the spec's rule).
  if (words[0] === 'UNKNOWN') return { addresses: null, length, error: null };
  const family = words[0] === 'TCP4' ? 4 : words[0] === 'TCP6' ? 6 : 0;
  if (family === 0) return v1Malformed(`unknown protocol ${JSON.stringify(words[0])}`);
  if (words.length !== 5) return v1Malformed('expected "PROXY TCP4|TCP6 source destination source-port destination-port", one space apart');
  const source = canonicalAddress(words[1], family);
  if (source === null) return v1Malformed(`bad ${words[0]} source address ${JSON.stringify(words[1])}`);
  const destination = canonicalAddress(words[2], family);
  if (destination === null) return v1Malformed(`bad ${words[0]} destination address ${JSON.stringify(words[2])}`);
  const sourcePort = decimalPort(words[3]);
  if (sourcePort === -1) return v1Malformed(`bad port ${JSON.stringify(words[3])}`);
  const destinationPort = decimalPort(words[4]);
  if (destinationPort === -1) return v1Malformed(`bad port ${JSON.stringify(words[4])}`);
  return { addresses: { source: { address: source, port: sourcePort }, destination: { address: destination, port: destinationPort } }, length, error: null };
}

/** 0-65535 in decimal, without sign or leading zeros; -1 otherwise. */
function decimalPort(text: string): number {
  if (text.length === 0 || text.length > 5 || (text.length > 1 && text.charCodeAt(0) === 0x30)) return -1;
  let port = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    port = port * 10 + (c - 0x30);
  }
  return port <= 65535 ? port : -1;
}

// ---- v2: signature, version and command, family and transport, length, addresses, TLVs

const V2_LOCAL = 0x0;
const V2_PROXY = 0x1;

/** The address block's size for each family-and-transport byte the spec defines; -1 for the rest. */
function v2AddressLength(familyTransport: number): number {
  switch (familyTransport) {
    case 0x00: return 0; // UNSPEC
    case 0x11: case 0x12: return 12; // TCP and UDP over IPv4
    case 0x21: case 0x22: return 36; // over IPv6
    case 0x31: case 0x32: return 216; // UNIX stream and datagram
    default: return -1;
  }
}

function v2Malformed(why: string): { error: string } {
  return { error: `malformed PROXY v2 header: ${why}` };
}

function parseV2(buf: Buffer): Parsed {
  for (let i = 0; i < V2_SIGNATURE.length && i < buf.length; i++) if (buf[i] !== V2_SIGNATURE[i]) return NOT_PROXY;
  if (buf.length < 16) return 'more';
  const versionCommand = buf[12];
  if (versionCommand >> 4 !== 2) return { error: 'PROXY v2 header with an unknown version' };
  const command = versionCommand & 0x0f;
  if (command !== V2_LOCAL && command !== V2_PROXY) return v2Malformed(`unknown command ${command}`);
  const familyTransport = buf[13];
  const addressLength = v2AddressLength(familyTransport);
  if (addressLength === -1) return v2Malformed(`unknown family and transport 0x${familyTransport.toString(16).padStart(2, '0')}`);
  const length = 16 + buf.readUInt16BE(14);
  if (length > V2_MAX) return { error: 'PROXY v2 header too long' };
  // LOCAL (the sender's own connection, a health check): the spec says to discard the block.
  if (command === V2_LOCAL) return buf.length < length ? 'more' : { addresses: null, length, error: null };
  if (length < 16 + addressLength) return v2Malformed('addresses shorter than their family');
  if (buf.length < length) return 'more';
  if (!wellFormedTlvs(buf, 16 + addressLength, length)) return v2Malformed('a TLV runs past the header');
  switch (familyTransport >> 4) {
    case 1:
      return {
        addresses: { source: { address: formatIPv4(buf, 16), port: buf.readUInt16BE(24) }, destination: { address: formatIPv4(buf, 20), port: buf.readUInt16BE(26) } },
        length, error: null,
      };
    case 2:
      return {
        addresses: { source: { address: formatIPv6(buf, 16), port: buf.readUInt16BE(48) }, destination: { address: formatIPv6(buf, 32), port: buf.readUInt16BE(50) } },
        length, error: null,
      };
    default:
      return { addresses: null, length, error: null }; // UNSPEC, or unix sockets: no address to use
  }
}

/** TLVs (type, 16-bit length, value) fill buf[from, to) exactly. */
function wellFormedTlvs(buf: Buffer, from: number, to: number): boolean {
  let at = from;
  while (at < to) {
    if (to - at < 3) return false;
    at += 3 + buf.readUInt16BE(at + 1);
  }
  return at === to;
}

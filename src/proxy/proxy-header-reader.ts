// Accepting the PROXY protocol (v1 text or v2 binary, told apart by their first bytes) from a
// client: a load balancer in front of furiwake says who the real client is. The header is read
// before anything else, bounded and within a timeout; the bytes after it are put back on the
// socket for whoever reads next.

import type net from 'node:net';
import type { Endpoint } from '../runtime/connection-table.ts';

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
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
    socket.setTimeout(0);
    socket.pause();
    if (rest !== null && rest.length > 0) socket.unshift(rest);
    done(result);
  };
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const parsed = parseProxyHeader(buffered);
    if (parsed === 'more') return;
    if ('error' in parsed && parsed.error !== null) return finish({ addresses: null, error: parsed.error }, null);
    finish({ addresses: parsed.addresses, error: null }, buffered.subarray(parsed.length));
  };
  const onEnd = (): void => finish({ addresses: null, error: 'connection closed before a PROXY header' }, null);
  const onTimeout = (): void => finish({ addresses: null, error: `no PROXY header within ${timeout} ms` }, null);
  socket.on('data', onData);
  socket.resume(); // a socket accepted paused (pauseOnConnect) would not flow for a listener alone
  socket.once('end', onEnd);
  socket.setTimeout(timeout);
  socket.once('timeout', onTimeout);
}

type Parsed = 'more' | { addresses: ProxiedAddresses | null; length: number; error: null } | { error: string };

/** One header at the start of `buf`: its addresses and length, 'more' when incomplete, or why it is bad. */
export function parseProxyHeader(buf: Buffer): Parsed {
  if (buf[0] === 0x0d) return parseV2(buf);
  if (buf[0] === 0x50) return parseV1(buf);
  return { error: 'expected a PROXY protocol header' };
}

function parseV1(buf: Buffer): Parsed {
  const end = buf.indexOf('\r\n');
  if (end === -1) return buf.length >= V1_MAX ? { error: 'PROXY v1 header longer than 107 bytes' } : 'more';
  const words = buf.toString('latin1', 0, end).split(' ');
  if (words[0] !== 'PROXY') return { error: 'expected a PROXY protocol header' };
  if (words[1] === 'UNKNOWN') return { addresses: null, length: end + 2, error: null };
  if ((words[1] !== 'TCP4' && words[1] !== 'TCP6') || words.length !== 6) return { error: `malformed PROXY v1 header: ${JSON.stringify(words.join(' '))}` };
  const [, , src, dst, sport, dport] = words;
  const ports = [Number(sport), Number(dport)];
  if (!ports.every((p) => /^\d{1,5}$/.test(String(p)) && p <= 65535)) return { error: 'malformed PROXY v1 header: bad port' };
  return { addresses: { source: { address: src, port: ports[0] }, destination: { address: dst, port: ports[1] } }, length: end + 2, error: null };
}

function parseV2(buf: Buffer): Parsed {
  if (buf.length < 16) return V2_SIGNATURE.subarray(0, buf.length).equals(buf) ? 'more' : { error: 'expected a PROXY protocol header' };
  if (!buf.subarray(0, 12).equals(V2_SIGNATURE)) return { error: 'expected a PROXY protocol header' };
  const versionCommand = buf[12];
  if (versionCommand >> 4 !== 2) return { error: 'PROXY v2 header with an unknown version' };
  const length = 16 + buf.readUInt16BE(14);
  if (length > V2_MAX) return { error: 'PROXY v2 header too long' };
  if (buf.length < length) return 'more';
  const local = (versionCommand & 0x0f) === 0;
  const family = buf[13] >> 4;
  if (local || family === 0) return { addresses: null, length, error: null };
  if (family === 1 && length >= 16 + 12) {
    const ip = (o: number): string => `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}`;
    return { addresses: { source: { address: ip(16), port: buf.readUInt16BE(24) }, destination: { address: ip(20), port: buf.readUInt16BE(26) } }, length, error: null };
  }
  if (family === 2 && length >= 16 + 36) {
    const ip = (o: number): string => Array.from({ length: 8 }, (_, i) => buf.readUInt16BE(o + 2 * i).toString(16)).join(':');
    return { addresses: { source: { address: ip(16), port: buf.readUInt16BE(48) }, destination: { address: ip(32), port: buf.readUInt16BE(50) } }, length, error: null };
  }
  if (family === 3) return { addresses: null, length, error: null }; // unix sockets: no address to use
  return { error: 'malformed PROXY v2 header: addresses shorter than their family' };
}

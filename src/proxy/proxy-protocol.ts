// PROXY protocol headers (HAProxy's proxy-protocol.txt, v1 text and v2 binary), written to a
// member before the client's bytes so the member learns the client's address — what the seed's
// NAT would have preserved. Built once per connection.

import { isIPv4 } from 'node:net';
import type { ProxyProtocolVersion } from '../config/types.ts';
import type { Endpoint } from '../runtime/connection-table.ts';

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_PROXY_COMMAND = 0x21; // version 2, PROXY
const V2_TCP4 = 0x11;
const V2_TCP6 = 0x21;
const V2_UDP4 = 0x12;
const V2_UDP6 = 0x22;

/** An IPv4 client seen on a dual-stack socket arrives as ::ffff:a.b.c.d; the header wants a.b.c.d. */
function unmap(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** Both addresses in one family: IPv4 when both are, otherwise IPv6 (IPv4 mapped). */
function pair(source: Endpoint, destination: Endpoint): { v4: boolean; src: string; dst: string } {
  const src = unmap(source.address);
  const dst = unmap(destination.address);
  if (isIPv4(src) && isIPv4(dst)) return { v4: true, src, dst };
  return { v4: false, src: isIPv4(src) ? `::ffff:${src}` : src, dst: isIPv4(dst) ? `::ffff:${dst}` : dst };
}

export function proxyHeader(version: ProxyProtocolVersion, transport: 'tcp' | 'udp', source: Endpoint, destination: Endpoint): Buffer {
  const p = pair(source, destination);
  if (version === 'v1') {
    return Buffer.from(`PROXY ${p.v4 ? 'TCP4' : 'TCP6'} ${p.src} ${p.dst} ${source.port} ${destination.port}\r\n`, 'latin1');
  }
  const addressLength = p.v4 ? 12 : 36;
  const header = Buffer.allocUnsafe(16 + addressLength);
  V2_SIGNATURE.copy(header, 0);
  header[12] = V2_PROXY_COMMAND;
  header[13] = transport === 'tcp' ? (p.v4 ? V2_TCP4 : V2_TCP6) : (p.v4 ? V2_UDP4 : V2_UDP6);
  header.writeUInt16BE(addressLength, 14);
  let offset = 16;
  offset = writeAddress(header, offset, p.src, p.v4);
  offset = writeAddress(header, offset, p.dst, p.v4);
  header.writeUInt16BE(source.port, offset);
  header.writeUInt16BE(destination.port, offset + 2);
  return header;
}

function writeAddress(buf: Buffer, offset: number, address: string, v4: boolean): number {
  if (v4) {
    for (const octet of address.split('.')) buf[offset++] = Number(octet);
    return offset;
  }
  for (const group of expandIPv6(address)) {
    buf.writeUInt16BE(group, offset);
    offset += 2;
  }
  return offset;
}

/** The eight 16-bit groups of an IPv6 address (with :: and a trailing dotted IPv4 part). */
export function expandIPv6(address: string): number[] {
  let text = address.split('%')[0];
  if (text.includes('.')) {
    const at = text.lastIndexOf(':');
    const [a, b, c, d] = text.slice(at + 1).split('.').map(Number);
    text = `${text.slice(0, at + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const gap = text.indexOf('::');
  if (gap === -1) return parse(text);
  const left = parse(text.slice(0, gap));
  const right = parse(text.slice(gap + 2));
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

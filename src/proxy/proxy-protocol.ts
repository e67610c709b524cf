// PROXY protocol headers (HAProxy's proxy-protocol.txt, v1 text and v2 binary), written to a
// member before the client's bytes so the member learns the client's address — what a
// kernel NAT would have preserved. Built once per connection.
//
// Built only from validated bytes: each address is parsed to its 16 bytes first (ip-text.ts)
// and the header is written from those, every byte set. An address or port that is not valid
// (a socket that closed before its peer was read, say) gives a header that names no address
// (v1 UNKNOWN, v2 LOCAL): the member then sees our own connection's addresses, never garbage,
// and building never throws.

import type { ProxyProtocolVersion } from '../config/types.ts';
import type { Endpoint } from '../runtime/connection-table.ts';
import { formatIPv4, formatIPv6, isMapped, isPort, readAddress } from '../ip-text.ts';

/** The 12 bytes that open every v2 header (\r\n\r\n\0\r\nQUIT\n); the reader tells v2 from v1 by them. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_PROXY_COMMAND = 0x21; // version 2, PROXY
const V2_LOCAL_COMMAND = 0x20; // version 2, LOCAL
const V2_TCP4 = 0x11;
const V2_TCP6 = 0x21;
const V2_UDP4 = 0x12;
const V2_UDP6 = 0x22;

const V1_UNKNOWN = Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
/** v2 LOCAL, family UNSPEC, no addresses */
const V2_LOCAL = Buffer.concat([V2_SIGNATURE, Buffer.from([V2_LOCAL_COMMAND, 0x00, 0x00, 0x00])]);

/** Both addresses, 16 bytes each (IPv4 as ::ffff:a.b.c.d); reused: a header is built synchronously. */
const addresses = new Uint8Array(32);

export function proxyHeader(version: ProxyProtocolVersion, transport: 'tcp' | 'udp', source: Endpoint, destination: Endpoint): Buffer {
  const valid = readAddress(source.address, addresses, 0) && readAddress(destination.address, addresses, 16) &&
    isPort(source.port) && isPort(destination.port);
  if (!valid) return Buffer.from(version === 'v1' ? V1_UNKNOWN : V2_LOCAL);
  // Both in one family: IPv4 when both are (an IPv4 client on a dual-stack socket arrives as
  // ::ffff:a.b.c.d), otherwise IPv6 with any IPv4 one mapped.
  const v4 = isMapped(addresses, 0) && isMapped(addresses, 16);
  if (version === 'v1') {
    const src = v4 ? formatIPv4(addresses, 12) : formatIPv6(addresses, 0);
    const dst = v4 ? formatIPv4(addresses, 28) : formatIPv6(addresses, 16);
    return Buffer.from(`PROXY ${v4 ? 'TCP4' : 'TCP6'} ${src} ${dst} ${source.port} ${destination.port}\r\n`, 'latin1');
  }
  const addressLength = v4 ? 12 : 36;
  const header = Buffer.alloc(16 + addressLength);
  V2_SIGNATURE.copy(header, 0);
  header[12] = V2_PROXY_COMMAND;
  header[13] = transport === 'tcp' ? (v4 ? V2_TCP4 : V2_TCP6) : (v4 ? V2_UDP4 : V2_UDP6);
  header.writeUInt16BE(addressLength, 14);
  if (v4) {
    header.set(addresses.subarray(12, 16), 16);
    header.set(addresses.subarray(28, 32), 20);
  } else {
    header.set(addresses, 16);
  }
  header.writeUInt16BE(source.port, 16 + addressLength - 4);
  header.writeUInt16BE(destination.port, 16 + addressLength - 2);
  return header;
}

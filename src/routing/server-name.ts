// The TLS server name a client asks for (SNI, RFC 6066 section 3), read from its ClientHello as
// it passes through a tcp service, for routes. The name is outside input: only a DNS name (letters,
// digits, `-`, `_`, `.`; at most 253 characters) is taken, in lowercase without a final dot;
// anything else is as if no name was sent (the connection goes where a client without one goes).

import { clientHelloExtension } from '../persistence/tls-session.ts';

const EXT_SERVER_NAME = 0;
const HOST_NAME = 0;
const MAX_NAME = 253;

/** The host name of a ClientHello body (after the handshake header); null for none or not a DNS name. */
export function helloServerName(body: Buffer): string | null {
  const data = clientHelloExtension(body, EXT_SERVER_NAME);
  return data === null ? null : serverNameOf(data);
}

/** The first host_name of a server_name extension's data. */
export function serverNameOf(data: Buffer): string | null {
  if (data.length < 2 || data.readUInt16BE(0) !== data.length - 2) return null;
  let at = 2;
  while (at + 3 <= data.length) {
    const type = data[at];
    const length = data.readUInt16BE(at + 1);
    const start = at + 3;
    if (start + length > data.length) return null;
    if (type === HOST_NAME) return dnsName(data, start, start + length);
    at = start + length;
  }
  return null;
}

function dnsName(b: Buffer, start: number, end: number): string | null {
  if (end > start && b[end - 1] === 0x2e /* . */) end--;
  if (end <= start || end - start > MAX_NAME) return null;
  let upper = false;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c >= 0x41 && c <= 0x5a) upper = true;
    else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f)) return null;
  }
  const name = b.toString('latin1', start, end);
  return upper ? name.toLowerCase() : name;
}

// IP addresses as text that came from outside (a PROXY header, a DNS answer) or from a socket:
// strict parsing to bytes by char codes, and one canonical text per address (dotted quad; RFC
// 5952 for IPv6), with an IPv4-mapped IPv6 address (::ffff:a.b.c.d) told apart once, here.
// Whatever furiwake writes onward (PROXY headers, X-Forwarded-For) is made from these bytes, so
// nothing but a valid address can come out, whatever came in.
//
// The grammar is HAProxy's proxy-protocol.txt and inet_pton's: IPv4 is exactly four decimal
// numbers 0-255 with no leading zeros (010 would be octal to some readers, decimal to others);
// IPv6 is groups of 1-4 hex digits with at most one "::" and an optional dotted-quad tail, no
// zone id ("%eth0") and no brackets.

const DOT = 0x2e;
const COLON = 0x3a;

/** Four bytes of a dotted quad s[from, to) into out[at..]; false when it is not one. */
function readIPv4(s: string, from: number, to: number, out: Uint8Array, at: number): boolean {
  let octets = 0;
  let value = 0;
  let digits = 0;
  for (let i = from; i <= to; i++) {
    const c = i < to ? s.charCodeAt(i) : DOT; // a dot after the last number closes it
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && value === 0) return false; // a leading zero
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return false;
    } else if (c === DOT) {
      if (digits === 0 || octets === 4) return false;
      out[at + octets++] = value;
      value = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  return octets === 4;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

const words = new Uint16Array(8);
const quad = new Uint8Array(4);

/** Sixteen bytes of the IPv6 address s[from, to) into out[at..]; false when it is not one. */
function readIPv6(s: string, from: number, to: number, out: Uint8Array, at: number): boolean {
  let n = 0; // 16-bit words read
  let gap = -1; // words before the "::", -1 without one
  let i = from;
  if (to - from < 2) return false;
  if (s.charCodeAt(i) === COLON) {
    if (s.charCodeAt(i + 1) !== COLON) return false;
    gap = 0;
    i += 2;
  }
  while (i < to) {
    if (n === 8) return false;
    const start = i;
    let value = 0;
    for (; i < to && i - start < 5; i++) {
      const h = hexValue(s.charCodeAt(i));
      if (h < 0) break;
      value = value * 16 + h;
    }
    if (i < to && s.charCodeAt(i) === DOT) {
      // a dotted quad ends the address and stands for its last two words
      if (n > 6 || !readIPv4(s, start, to, quad, 0)) return false;
      words[n++] = (quad[0] << 8) | quad[1];
      words[n++] = (quad[2] << 8) | quad[3];
      break;
    }
    const digits = i - start;
    if (digits === 0 || digits > 4) return false;
    words[n++] = value;
    if (i === to) break;
    if (s.charCodeAt(i) !== COLON) return false;
    i++;
    if (i === to) return false; // a lone trailing colon
    if (s.charCodeAt(i) === COLON) {
      if (gap !== -1) return false;
      gap = n;
      i++;
    }
  }
  if (gap === -1 ? n !== 8 : n > 7) return false;
  const zeros = 8 - n;
  for (let w = 0, from2 = 0; w < 8; w++) {
    let v = 0;
    if (gap === -1 || w < gap) v = words[from2++];
    else if (w >= gap + zeros) v = words[from2++];
    out[at + 2 * w] = v >> 8;
    out[at + 2 * w + 1] = v & 0xff;
  }
  return true;
}

/** `address` (IPv4 or IPv6 text) as 16 bytes at out[at..], IPv4 as ::ffff:a.b.c.d; false when it is neither. */
export function readAddress(address: string, out: Uint8Array, at: number): boolean {
  if (typeof address !== 'string' || address.length > 45) return false;
  for (let i = 0; i < 10; i++) out[at + i] = 0;
  if (readIPv4(address, 0, address.length, out, at + 12)) {
    out[at + 10] = 0xff;
    out[at + 11] = 0xff;
    return true;
  }
  return readIPv6(address, 0, address.length, out, at);
}

/** Whether the 16 bytes at b[at..] are an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
export function isMapped(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < 10; i++) if (b[at + i] !== 0) return false;
  return b[at + 10] === 0xff && b[at + 11] === 0xff;
}

export function formatIPv4(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952: lower-case hex without leading zeros, the longest run of two or more zero words as "::". */
export function formatIPv6(b: Uint8Array, at: number): string {
  if (isMapped(b, at)) return `::ffff:${formatIPv4(b, at + 12)}`;
  let bestAt = -1;
  let bestLength = 1;
  for (let w = 0; w < 8;) {
    if (b[at + 2 * w] !== 0 || b[at + 2 * w + 1] !== 0) {
      w++;
      continue;
    }
    let end = w;
    while (end < 8 && b[at + 2 * end] === 0 && b[at + 2 * end + 1] === 0) end++;
    if (end - w > bestLength) {
      bestAt = w;
      bestLength = end - w;
    }
    w = end;
  }
  let text = '';
  for (let w = 0; w < 8; w++) {
    if (w === bestAt) {
      text += '::';
      w += bestLength - 1;
      continue;
    }
    if (text !== '' && !text.endsWith(':')) text += ':';
    text += ((b[at + 2 * w] << 8) | b[at + 2 * w + 1]).toString(16);
  }
  return text;
}

const scratch = new Uint8Array(16);

/** The canonical text of an IPv4 (family 4) or IPv6 (family 6) address; null when `text` is not one. */
export function canonicalAddress(text: string, family: 4 | 6): string | null {
  if (family === 4) return readIPv4(text, 0, text.length, scratch, 0) ? formatIPv4(scratch, 0) : null;
  if (text.length > 45 || !readIPv6(text, 0, text.length, scratch, 0)) return null;
  return formatIPv6(scratch, 0);
}

/** The canonical text of any IP address (IPv4-mapped IPv6 shown as its IPv4); null when it is not one. */
export function canonicalIP(text: string): string | null {
  if (!readAddress(text, scratch, 0)) return null;
  return isMapped(scratch, 0) ? formatIPv4(scratch, 12) : formatIPv6(scratch, 0);
}

/**
 * An IPv4 client seen through a dual-stack socket, as sockets spell it (`::ffff:192.0.2.1`), as
 * the IPv4 address it is (`192.0.2.1`); any other text as it is. Cheap enough for every accept.
 */
export function unmappedIPv4(address: string): string {
  return address.length > 7 && address.startsWith('::ffff:') && address.includes('.', 7) ? address.slice(7) : address;
}

/** A port number as furiwake writes one: an integer 0-65535. */
export function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

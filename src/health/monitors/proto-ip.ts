// IP addresses as bytes, so two spellings of one address ('::1', '0:0::1', '::ffff:127.0.0.1')
// compare equal: reply source addresses, DNS AAAA answers.

import net from 'node:net';

/** 4 bytes for IPv4, 16 for IPv6 (an IPv4-mapped IPv6 address gives its 4 IPv4 bytes); null if not an IP. */
export function ipBytes(ip: string): Buffer | null {
  const family = net.isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6) return null;
  const zone = ip.indexOf('%');
  let text = zone >= 0 ? ip.slice(0, zone) : ip;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // dotted IPv4 in the last 32 bits
    tail = text.slice(lastColon + 1).split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, null];
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const front = groups(head);
  const back = rest === null ? [] : groups(rest);
  const words = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const bytes = Buffer.alloc(16);
  words.forEach((w, i) => bytes.writeUInt16BE(w, i * 2));
  if (tail.length === 4) Buffer.from(tail).copy(bytes, 12);
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? Buffer.from(bytes.subarray(12)) : bytes;
}

export function sameAddress(a: string, b: string): boolean {
  const x = ipBytes(a);
  const y = ipBytes(b);
  return x !== null && y !== null && x.equals(y);
}

/** 'ipv4' or 'ipv6' by what is actually used on the wire (IPv4-mapped IPv6 is IPv4). */
export function wireFamily(ip: string): 4 | 6 | 0 {
  const bytes = ipBytes(ip);
  return bytes === null ? 0 : bytes.length === 4 ? 4 : 6;
}

/** The bytes back to text: dotted for 4 bytes, RFC 5952 compressed for 16. */
export function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(bytes.readUInt16BE(i));
  // the longest run of two or more zero words becomes '::'
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

// TLS handshake messages built byte by byte, for the tests of the readers that look into them
// (tls-session persistence): records, handshake headers, ClientHello and ServerHello bodies.

export const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
export const u24 = (n: number) => Buffer.from([n >> 16, (n >> 8) & 255, n & 255]);

export function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(data.length), data]);
}
export function extensions(...list: Buffer[]): Buffer {
  const all = Buffer.concat(list);
  return Buffer.concat([u16(all.length), all]);
}
export function handshake(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), u24(body.length), body]);
}
/** The bytes as TLS records of at most `size` payload bytes each. */
export function records(type: number, payload: Buffer, size = 16_384): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < payload.length; at += size) {
    const part = payload.subarray(at, at + size);
    out.push(Buffer.concat([Buffer.from([type, 3, 1]), u16(part.length), part]));
  }
  return Buffer.concat(out);
}

export const SESSION = Buffer.alloc(32, 0xab);
export const TICKET = Buffer.alloc(180, 0x5c);

export function clientHelloBody(opts: { session?: Buffer; ticket?: Buffer; tls13?: boolean } = {}): Buffer {
  const session = opts.session ?? Buffer.alloc(0);
  const exts = [extension(0, Buffer.from('\0\0\x09\0\0\x06server', 'latin1'))];
  if (opts.ticket !== undefined) exts.push(extension(35, opts.ticket));
  if (opts.tls13) exts.push(extension(43, Buffer.from([4, 3, 4, 3, 3])));
  return Buffer.concat([
    u16(0x0303), Buffer.alloc(32, 7), Buffer.from([session.length]), session,
    u16(4), Buffer.from([0xc0, 0x2b, 0xc0, 0x2f]), Buffer.from([1, 0]), extensions(...exts),
  ]);
}

export function serverHelloBody(session: Buffer, tls13 = false): Buffer {
  const exts = tls13 ? [extension(43, u16(0x0304))] : [extension(0xff01, Buffer.from([0]))];
  return Buffer.concat([u16(0x0303), Buffer.alloc(32, 9), Buffer.from([session.length]), session, u16(0xc02b), Buffer.from([0]), extensions(...exts)]);
}

// A raw HTTP/2 client for attacks: frames built by hand (header blocks of literal fields, so any
// name, order or repetition nghttp2 would never send), and what came back per stream: the
// response's :status (decoded from the static table or a literal, Huffman digits included),
// RST_STREAM codes, GOAWAY. Only the attacking side is hand-made; furiwake is the real one.

import net from 'node:net';
import { once } from 'node:events';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const END_STREAM = 0x1;
export const END_HEADERS = 0x4;

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an n-bit prefix (first byte's high bits `high`). */
function int(value: number, n: number, high: number): number[] {
  const max = (1 << n) - 1;
  if (value < max) return [high | value];
  const out = [high | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** A header block of literal fields without indexing, new names, raw (latin1) strings. */
export function block(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00, ...int(n.length, 7, 0)]), n, Buffer.from(int(v.length, 7, 0)), v);
  }
  return Buffer.concat(parts);
}

export function headers(stream: number, fields: [string, string][], endStream: boolean): Buffer {
  return frame(0x1, END_HEADERS | (endStream ? END_STREAM : 0), stream, block(fields));
}

export function data(stream: number, bytes: Buffer | string, endStream: boolean): Buffer {
  return frame(0x0, endStream ? END_STREAM : 0, stream, Buffer.from(bytes));
}

const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
const HUFFMAN_DIGITS: [number, number][] = [
  [0b00000, 5], [0b00001, 5], [0b00010, 5], [0b011001, 6], [0b011010, 6], [0b011011, 6], [0b011100, 6], [0b011101, 6], [0b011110, 6], [0b011111, 6],
];

/** The :status of a response header block when it comes first (as nghttp2 writes it); 0 when unread. */
function statusOf(b: Buffer): number {
  if (b.length === 0) return 0;
  const first = b[0];
  if (first & 0x80) return STATIC_STATUS[first & 0x7f] ?? 0;
  // literal with name index 8..14 (:status), 4-bit (without indexing) or 6-bit (incremental) prefix
  const idx = (first & 0xc0) === 0x40 ? first & 0x3f : first & 0x0f;
  if (idx < 8 || idx > 14) return 0;
  const huff = (b[1] & 0x80) !== 0;
  const len = b[1] & 0x7f;
  const s = b.subarray(2, 2 + len);
  if (!huff) return Number(s.toString('latin1'));
  let bits = '';
  for (const x of s) bits += x.toString(2).padStart(8, '0');
  let out = '';
  for (let at = 0; out.length < 3; ) {
    const d = HUFFMAN_DIGITS.findIndex(([code, n]) => bits.slice(at, at + n) === code.toString(2).padStart(n, '0'));
    if (d === -1) return 0;
    out += d;
    at += HUFFMAN_DIGITS[d][1];
  }
  return Number(out);
}

export interface StreamResult {
  status: number;
  reset: number;
  body: number;
  ended: boolean;
}

/** A raw connection: writes what it is given, reads frames, answers SETTINGS and PING. */
export class RawH2 {
  readonly socket: net.Socket;
  readonly streams = new Map<number, StreamResult>();
  goaway = -1;
  closed = false;
  #buf = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  /** a member's side: the client's preface is still to be skipped */
  #preface: boolean;
  /** called with each stream id whose request HEADERS came (a member's side) */
  onRequest: ((id: number, endStream: boolean) => void) | null = null;

  constructor(socket: net.Socket, server = false) {
    this.socket = socket;
    this.#preface = server;
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => this.#read(c));
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  static async open(port: number, settings = true): Promise<RawH2> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await once(socket, 'connect');
    const c = new RawH2(socket);
    if (settings) socket.write(Buffer.concat([PREFACE, frame(0x4, 0, 0)]));
    return c;
  }

  write(...frames: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(frames));
  }

  #stream(id: number): StreamResult {
    let s = this.streams.get(id);
    if (s === undefined) this.streams.set(id, (s = { status: 0, reset: -1, body: 0, ended: false }));
    return s;
  }

  #read(c: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, c]);
    if (this.#preface) {
      if (this.#buf.length < PREFACE.length) return;
      this.#buf = this.#buf.subarray(PREFACE.length);
      this.#preface = false;
    }
    while (this.#buf.length >= 9) {
      const len = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < 9 + len) break;
      const type = this.#buf[3];
      const flags = this.#buf[4];
      const id = this.#buf.readUInt32BE(5) & 0x7fffffff;
      const p = this.#buf.subarray(9, 9 + len);
      this.#buf = this.#buf.subarray(9 + len);
      if (type === 0x4 && !(flags & 1)) this.write(frame(0x4, 1, 0));
      else if (type === 0x6 && !(flags & 1)) this.write(frame(0x6, 1, 0, p));
      else if (type === 0x7) this.goaway = p.readUInt32BE(4);
      else if (type === 0x3) {
        this.#stream(id).reset = p.readUInt32BE(0);
        this.#stream(id).ended = true;
      } else if (type === 0x1) {
        const s = this.#stream(id);
        let b = p;
        if (flags & 0x8) b = b.subarray(1, b.length - b[0]);
        if (flags & 0x20) b = b.subarray(5);
        if (s.status === 0) s.status = statusOf(b);
        if (flags & END_STREAM) s.ended = true;
        this.onRequest?.(id, (flags & END_STREAM) !== 0);
      } else if (type === 0x0) {
        const s = this.#stream(id);
        s.body += len;
        if (len > 0) this.write(frame(0x8, 0, 0, u32(len)), frame(0x8, 0, id, u32(len)));
        if (flags & END_STREAM) s.ended = true;
      }
    }
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves once `test` holds (checked at each read and at the close). */
  async until(test: () => boolean): Promise<void> {
    while (!test()) {
      if (this.closed) return;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  /** The stream's result once it ended (a response with END_STREAM, a reset, or the connection's end). */
  async result(id: number): Promise<StreamResult> {
    await this.until(() => this.streams.get(id)?.ended === true);
    return this.#stream(id);
  }

  close(): void {
    this.socket.destroy();
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

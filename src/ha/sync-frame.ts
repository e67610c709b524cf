// The frames of the replication link between the nodes of a pair (ha.sync), and their parser.
// A frame is a 4-byte big-endian length, then that many bytes: a type byte, the message, and —
// once the link is authenticated — a 16-byte MAC (sync-auth.ts). The peer's bytes are outside
// bytes until its MAC checks, so every field is validated here: lengths bounded, text printable
// ASCII of bounded length, numbers in range. A frame that breaks a rule is a rejection with a
// reason (the link drops that peer); nothing here throws.

/** the most bytes one frame's body may have: a batch of stick entries stays far below it */
export const MAX_FRAME = 1 << 20;
/** the longest name, key or member id carried (service and pool names are at most 64, keys about 80) */
export const MAX_TEXT = 255;
export const NONCE_BYTES = 32;
export const MAC_BYTES = 32;
/** the version a node speaks; a peer speaking another is refused by name */
export const SYNC_VERSION = 1;
/** the largest frame before authentication: a hello (1 + 1 + 256 + 32 bytes) or an auth */
export const MAX_HANDSHAKE_FRAME = 512;

export const FRAME = { hello: 1, auth: 2, stick: 3, unstick: 4, clear: 5, operator: 6, synced: 7, ping: 8 } as const;

/** what an operator set on a member, as replicated */
export type OperatorField = 'state' | 'weight' | 'maxConnections';
const FIELDS: readonly OperatorField[] = ['state', 'weight', 'maxConnections'];
export const ADMIN_STATES = ['enabled', 'drain', 'disabled'] as const;
/** the largest weight and connection limit a peer may set (the admin API's bounds) */
const MAX_WEIGHT = 256;
const MAX_U32 = 0xffff_ffff;

export interface StickEntryUpdate {
  key: string;
  member: string;
  /** ms the entry has left on the sender */
  expiresIn: number;
}

export interface OperatorChange {
  pool: string;
  member: string;
  field: OperatorField;
  /** state: index in ADMIN_STATES; weight 0..256; maxConnections 0..2^32-1 */
  value: number;
  /** ms since epoch when the operator set it (last writer wins) */
  at: number;
  /** the node it was set on */
  by: string;
}

export type SyncMessage =
  | { type: 'hello'; version: number; node: string; nonce: Buffer }
  | { type: 'auth'; mac: Buffer }
  | { type: 'stick'; service: string; entries: StickEntryUpdate[] }
  | { type: 'unstick'; service: string; keys: string[] }
  /** forget every key of a service (member null) or those that stick to one member */
  | { type: 'clear'; service: string; member: string | null }
  | { type: 'operator'; changes: OperatorChange[] }
  /** the sender's full resynchronisation is complete */
  | { type: 'synced' }
  | { type: 'ping' };

export type Parsed = { ok: true; message: SyncMessage } | { ok: false; reason: string };

// ---- writing --------------------------------------------------------------------------------

/** Builds one frame body; the link adds the length (and the MAC). */
export function encodeMessage(m: SyncMessage): Buffer {
  const w = new Writer();
  w.u8(FRAME[m.type]);
  switch (m.type) {
    case 'hello':
      w.u8(m.version);
      w.text(m.node);
      w.bytes(m.nonce);
      break;
    case 'auth':
      w.bytes(m.mac);
      break;
    case 'stick':
      w.text(m.service);
      w.u32(m.entries.length);
      for (const e of m.entries) {
        w.text(e.key);
        w.text(e.member);
        w.u32(Math.max(0, Math.min(MAX_U32, Math.round(e.expiresIn))));
      }
      break;
    case 'unstick':
      w.text(m.service);
      w.u32(m.keys.length);
      for (const k of m.keys) w.text(k);
      break;
    case 'clear':
      w.text(m.service);
      w.u8(m.member === null ? 0 : 1);
      if (m.member !== null) w.text(m.member);
      break;
    case 'operator':
      w.u32(m.changes.length);
      for (const c of m.changes) {
        w.text(c.pool);
        w.text(c.member);
        w.u8(FIELDS.indexOf(c.field));
        w.u32(c.value);
        w.f64(c.at);
        w.text(c.by);
      }
      break;
    case 'synced':
    case 'ping':
      break;
  }
  return w.done();
}

class Writer {
  #parts: Buffer[] = [];
  u8(n: number): void {
    this.#parts.push(Buffer.of(n));
  }
  u32(n: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(n);
    this.#parts.push(b);
  }
  f64(n: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleBE(n);
    this.#parts.push(b);
  }
  text(s: string): void {
    const b = Buffer.from(s, 'latin1');
    this.u8(b.length);
    this.#parts.push(b);
  }
  bytes(b: Buffer): void {
    this.#parts.push(b);
  }
  done(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

// ---- reading --------------------------------------------------------------------------------

/** A field broke its rule: the reader stops at the first one. */
class Rejected {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

class Reader {
  readonly #b: Buffer;
  #at: number;
  failure: Rejected | null = null;

  constructor(b: Buffer, at: number) {
    this.#b = b;
    this.#at = at;
  }

  get left(): number {
    return this.#b.length - this.#at;
  }

  #need(n: number, what: string): boolean {
    if (this.failure !== null) return false;
    if (this.left >= n) return true;
    this.failure = new Rejected(`${what} cut short`);
    return false;
  }

  fail(reason: string): void {
    this.failure ??= new Rejected(reason);
  }

  u8(what: string): number {
    if (!this.#need(1, what)) return 0;
    return this.#b[this.#at++];
  }

  u32(what: string): number {
    if (!this.#need(4, what)) return 0;
    const n = this.#b.readUInt32BE(this.#at);
    this.#at += 4;
    return n;
  }

  f64(what: string): number {
    if (!this.#need(8, what)) return 0;
    const n = this.#b.readDoubleBE(this.#at);
    this.#at += 8;
    return n;
  }

  bytes(n: number, what: string): Buffer {
    if (!this.#need(n, what)) return Buffer.alloc(0);
    const out = Buffer.from(this.#b.subarray(this.#at, this.#at + n));
    this.#at += n;
    return out;
  }

  /** printable ASCII (0x21..0x7e), 1..MAX_TEXT bytes: names, keys and member ids have no spaces */
  text(what: string): string {
    const n = this.u8(`${what} length`);
    if (this.failure !== null) return '';
    if (n === 0) {
      this.fail(`${what} is empty`);
      return '';
    }
    if (!this.#need(n, what)) return '';
    const b = this.#b;
    for (let i = this.#at; i < this.#at + n; i++) {
      const c = b[i];
      if (c < 0x21 || c > 0x7e) {
        this.fail(`${what} has a byte 0x${c.toString(16).padStart(2, '0')} that is not printable ASCII`);
        return '';
      }
    }
    const s = b.toString('latin1', this.#at, this.#at + n);
    this.#at += n;
    return s;
  }

  /** a count of items each at least `min` bytes long: more than the bytes left can hold is refused */
  count(min: number, what: string): number {
    const n = this.u32(`${what} count`);
    if (this.failure === null && n * min > this.left) this.fail(`${n} ${what} cannot fit in ${this.left} bytes`);
    return n;
  }
}

/** The message of one frame body (type byte first, MAC already removed). */
export function parseMessage(body: Buffer): Parsed {
  if (body.length === 0) return { ok: false, reason: 'an empty frame' };
  const r = new Reader(body, 1);
  const message = readMessage(body[0], r);
  if (r.failure !== null) return { ok: false, reason: r.failure.reason };
  if (message === null) return { ok: false, reason: `an unknown frame type ${body[0]}` };
  if (r.left !== 0) return { ok: false, reason: `${r.left} bytes after the end of a ${message.type} frame` };
  return { ok: true, message };
}

function readMessage(type: number, r: Reader): SyncMessage | null {
  switch (type) {
    case FRAME.hello: {
      const version = r.u8('version');
      const node = r.text('node name');
      const nonce = r.bytes(NONCE_BYTES, 'nonce');
      return { type: 'hello', version, node, nonce };
    }
    case FRAME.auth:
      return { type: 'auth', mac: r.bytes(MAC_BYTES, 'mac') };
    case FRAME.stick: {
      const service = r.text('service');
      // an entry is at least a 1-byte key, a 1-byte member and its expiry: 2 + 2 + 4
      const n = r.count(8, 'entries');
      const entries: StickEntryUpdate[] = [];
      for (let i = 0; i < n && r.failure === null; i++) {
        const key = r.text('key');
        const member = r.text('member');
        const expiresIn = r.u32('expiry');
        entries.push({ key, member, expiresIn });
      }
      return { type: 'stick', service, entries };
    }
    case FRAME.unstick: {
      const service = r.text('service');
      const n = r.count(2, 'keys');
      const keys: string[] = [];
      for (let i = 0; i < n && r.failure === null; i++) keys.push(r.text('key'));
      return { type: 'unstick', service, keys };
    }
    case FRAME.clear: {
      const service = r.text('service');
      const has = r.u8('member flag');
      if (has > 1) r.fail(`a member flag of ${has}`);
      return { type: 'clear', service, member: has === 1 ? r.text('member') : null };
    }
    case FRAME.operator: {
      // pool, member, by: 2 bytes each at least; field 1, value 4, time 8
      const n = r.count(19, 'changes');
      const changes: OperatorChange[] = [];
      for (let i = 0; i < n && r.failure === null; i++) {
        const pool = r.text('pool');
        const member = r.text('member');
        const f = r.u8('field');
        const value = r.u32('value');
        const at = r.f64('time');
        const by = r.text('node name');
        const field = FIELDS[f];
        if (field === undefined) r.fail(`an unknown member field ${f}`);
        else if (field === 'state' && value >= ADMIN_STATES.length) r.fail(`an unknown admin state ${value}`);
        else if (field === 'weight' && value > MAX_WEIGHT) r.fail(`a weight of ${value} (at most ${MAX_WEIGHT})`);
        if (!(Number.isSafeInteger(at) && at >= 0)) r.fail(`a time that is not a whole number of ms since 1970`);
        changes.push({ pool, member, field: field ?? 'state', value, at, by });
      }
      return { type: 'operator', changes };
    }
    case FRAME.synced:
      return { type: 'synced' };
    case FRAME.ping:
      return { type: 'ping' };
    default:
      return null;
  }
}

/**
 * Cuts a byte stream into frame bodies. `push` returns the bodies completed by a chunk, or a
 * reason when a length is out of bounds (the stream cannot be trusted past that point).
 */
export class FrameReader {
  #pending: Buffer[] = [];
  #buffered = 0;
  /** bytes the frame begun in `#pending` needs in all (its length read): until then chunks are only kept, not joined */
  #need = 0;

  /** `max`: the largest body accepted now (the handshake's frames are small) */
  push(chunk: Buffer, max = MAX_FRAME): Buffer[] | string {
    this.#pending.push(chunk);
    this.#buffered += chunk.length;
    // a large frame comes in many chunks: joining them all at each one would copy it over and over
    if (this.#buffered < this.#need) return [];
    const out: Buffer[] = [];
    let buf = this.#pending.length === 1 ? chunk : Buffer.concat(this.#pending, this.#buffered);
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32BE(at);
      if (length === 0 || length > max) return `a frame of ${length} bytes (1 to ${max} allowed)`;
      if (buf.length - at - 4 < length) {
        this.#need = 4 + length;
        break;
      }
      out.push(buf.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    buf = buf.subarray(at);
    if (buf.length < 4) this.#need = 0;
    this.#pending = buf.length === 0 ? [] : [buf];
    this.#buffered = buf.length;
    return out;
  }
}

/** The length prefix of a frame body. */
export function lengthPrefix(length: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(length);
  return b;
}

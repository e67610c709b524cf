// The two messages of grpc.health.v1.Health/Check, by hand: HealthCheckRequest{string service = 1}
// out, HealthCheckResponse{ServingStatus status = 1} back, each in gRPC's length-prefixed framing
// (1 byte compressed flag, 4 bytes big-endian length). The answer is outside bytes: every length
// is checked against what arrived and against a bound, unknown fields are skipped as protobuf
// says, and anything else is a reason in words, never a throw.

/** The longest answer read; a HealthCheckResponse is 2 bytes, so this is generous. */
export const MAX_GRPC_REPLY = 4096;
/** How many bytes of a varint protobuf allows. */
const MAX_VARINT = 10;
const HEADER = 5;

/** ServingStatus of grpc.health.v1 by its number. */
export const SERVING_STATUS: readonly string[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
export const SERVING = 1;

/** A HealthCheckRequest for `service` ('' = the server as a whole), framed for the stream. */
export function encodeCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  // proto3 leaves a field at its default ('') out: the empty service is an empty message
  const field = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.of(0x0a), varint(name.length), name]);
  const frame = Buffer.alloc(HEADER + field.length);
  frame.writeUInt32BE(field.length, 1);
  field.copy(frame, HEADER);
  return frame;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * The status number from the whole body of the answer (every DATA byte of the stream), or
 * what is wrong with it. A unary answer is exactly one uncompressed message.
 */
export function parseCheckReply(body: Buffer): number | string {
  if (body.length === 0) return 'no response message';
  if (body.length < HEADER) return `response message cut short (${body.length} bytes)`;
  const flag = body[0];
  if (flag === 1) return 'compressed response message (no compression was offered)';
  if (flag !== 0) return `bad message flag ${flag}`;
  const length = body.readUInt32BE(1);
  if (length > MAX_GRPC_REPLY) return `response message of ${length} bytes (at most ${MAX_GRPC_REPLY})`;
  if (HEADER + length > body.length) return `response message cut short (${body.length - HEADER} of ${length} bytes)`;
  if (HEADER + length < body.length) return 'more than one response message';
  return decodeCheckResponse(body.subarray(HEADER));
}

/** The status field of a HealthCheckResponse (0, UNKNOWN, when absent; the last one wins). */
export function decodeCheckResponse(message: Buffer): number | string {
  let status = 0;
  let at = 0;
  while (at < message.length) {
    const key = readVarint(message, at);
    if (typeof key === 'string') return key;
    at = key.next;
    // a key is a uint32: field numbers go up to 2^29 - 1
    if (key.value > 0xffff_ffff) return 'protobuf field number too large';
    const field = Math.floor(key.value / 8);
    const wire = key.value % 8;
    if (field === 0) return 'invalid protobuf field number 0';
    if (field === 1) {
      if (wire !== 0) return `status field of wire type ${wire} (an enum is a varint)`;
      const value = readVarint(message, at);
      if (typeof value === 'string') return value;
      at = value.next;
      status = value.low32;
      continue;
    }
    // an unknown field: skipped by its wire type
    switch (wire) {
      case 0: {
        const value = readVarint(message, at);
        if (typeof value === 'string') return value;
        at = value.next;
        break;
      }
      case 1:
        at += 8;
        break;
      case 5:
        at += 4;
        break;
      case 2: {
        const length = readVarint(message, at);
        if (typeof length === 'string') return length;
        at = length.next + length.value;
        break;
      }
      default:
        return `unsupported protobuf wire type ${wire}`;
    }
    if (at > message.length) return 'protobuf field past the end of the message';
  }
  return status;
}

interface Varint {
  /** the value, exact up to 2^53 (enough to compare lengths with the message's) */
  value: number;
  /** its low 32 bits as a signed int32 (what an enum is) */
  low32: number;
  next: number;
}

function readVarint(buf: Buffer, start: number): Varint | string {
  let value = 0;
  let low32 = 0;
  for (let i = 0; i < MAX_VARINT; i++) {
    const at = start + i;
    if (at >= buf.length) return 'protobuf varint past the end of the message';
    const b = buf[at];
    value += (b & 0x7f) * 2 ** (7 * i);
    if (i < 5) low32 |= (b & 0x7f) << (7 * i);
    if (b < 0x80) return { value, low32, next: at + 1 };
  }
  return 'protobuf varint longer than 10 bytes';
}

/** The status in words: SERVING, NOT_SERVING ..., or its number when the server sent another. */
export function servingStatusName(status: number): string {
  return SERVING_STATUS[status] ?? `unknown serving status ${status}`;
}

/** gRPC's status codes by number, for reasons. */
const GRPC_CODES: readonly string[] = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

/** The longest grpc-message kept in a reason. */
const MAX_MESSAGE_TEXT = 200;

/**
 * grpc-status (and grpc-message) of a trailer in words: 'gRPC status 5 NOT_FOUND: unknown
 * service'. The message is percent-decoded (gRPC's encoding), cut short and freed of controls.
 */
export function grpcStatusReason(status: string, message: string | undefined): string {
  const code = /^\d{1,3}$/.test(status) ? Number(status) : NaN;
  const name = GRPC_CODES[code];
  let reason = name === undefined ? `gRPC status ${JSON.stringify(status.slice(0, 20))}` : `gRPC status ${code} ${name}`;
  if (message !== undefined && message !== '') reason += `: ${printable(percentDecode(message))}`;
  return reason;
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // not valid percent-encoding: shown as it came
  }
}

function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f]+/g, ' ');
  return clean.length > MAX_MESSAGE_TEXT ? `${clean.slice(0, MAX_MESSAGE_TEXT)}…` : clean;
}

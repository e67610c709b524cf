// The little of a RADIUS datagram (RFC 2865 3, 5) the udp data plane reads to balance each
// request on its own: Code, Identifier, Request Authenticator and the State attribute. The
// header's Length and every attribute's length are checked against the datagram; anything else
// is a rejection (a reason), never a throw. Nothing is verified with a secret: the balancer has none.

export const ACCESS_REQUEST = 1;
export const ACCOUNTING_REQUEST = 4;
export const ACCESS_CHALLENGE = 11;
export const STATUS_SERVER = 12;
const STATE = 24;
export const RADIUS_HEADER = 20;
/** RFC 2865 3: the longest RADIUS packet */
export const MAX_RADIUS_PACKET = 4096;

export interface RadiusMessage {
  code: number;
  identifier: number;
  /** octets of the packet (Length); past them is padding (RFC 2865 3) */
  length: number;
  /** the State attribute's value as offsets in the datagram; -1 when there is none */
  stateStart: number;
  stateEnd: number;
}

/** The message in `data`, or why it is not a well-formed RADIUS packet. */
export function readRadius(data: Buffer): RadiusMessage | string {
  if (data.length < RADIUS_HEADER) return `shorter than a RADIUS header (${data.length} bytes)`;
  const code = data[0];
  if (code === 0) return 'code 0';
  const length = data.readUInt16BE(2);
  if (length < RADIUS_HEADER || length > MAX_RADIUS_PACKET) return `bad Length ${length}`;
  if (length > data.length) return `Length ${length} is past the end of the datagram (${data.length} bytes)`;
  let stateStart = -1;
  let stateEnd = -1;
  let offset = RADIUS_HEADER;
  while (offset < length) {
    if (offset + 2 > length) return `attribute at ${offset} is cut short`;
    const type = data[offset];
    const size = data[offset + 1];
    if (size < 2 || offset + size > length) return `attribute ${type} at ${offset} has a bad length ${size}`;
    if (type === STATE) {
      // RFC 2865 5.24: at least one octet, and at most one State in a packet (5.44)
      if (size < 3) return 'empty State';
      if (stateStart !== -1) return 'more than one State';
      stateStart = offset + 2;
      stateEnd = offset + size;
    }
    offset += size;
  }
  return { code, identifier: data[1], length, stateStart, stateEnd };
}

/** A request a client sends to a server, which the balancer places on a member. */
export function isRadiusRequest(code: number): boolean {
  return code === ACCESS_REQUEST || code === ACCOUNTING_REQUEST || code === STATUS_SERVER;
}

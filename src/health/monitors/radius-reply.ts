// Judging a RADIUS answer to our Access-Request (RFC 2865 3, RFC 3579 3.2): every length field
// checked against the datagram, every attribute walked, the Response Authenticator and the
// Message-Authenticator verified with the shared secret before the code counts.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { CheckResult } from '../monitor.ts';

const ACCESS_ACCEPT = 2;
const ACCESS_REJECT = 3;
const ACCESS_CHALLENGE = 11;
const MESSAGE_AUTHENTICATOR = 80;
const HEADER = 20;
/** RFC 2865 3: the longest RADIUS packet */
export const MAX_RADIUS_PACKET = 4096;
const CODES: Record<number, string> = {
  [ACCESS_ACCEPT]: 'Access-Accept',
  [ACCESS_REJECT]: 'Access-Reject',
  [ACCESS_CHALLENGE]: 'Access-Challenge',
};

/**
 * The check's result from `response` (a datagram from the member) to `request`; null when it
 * answers another request (another identifier): the check keeps waiting for its own.
 */
export function judgeRadiusReply(response: Buffer, request: Buffer, secret: string, expect: 'accept' | 'any'): CheckResult | null {
  if (response.length < HEADER) return down(`shorter than a RADIUS header (${response.length} bytes)`);
  if (response[1] !== request[1]) return null;
  const length = response.readUInt16BE(2);
  if (length < HEADER || length > MAX_RADIUS_PACKET) return down(`bad Length ${length}`);
  if (length > response.length) return down(`Length ${length} is past the end of the datagram (${response.length} bytes)`);
  const answer = response.subarray(0, length); // octets past Length are padding (RFC 2865 3)
  const attributes = walkAttributes(answer);
  if (typeof attributes === 'string') return down(attributes);
  const problem = verify(answer, request, secret, attributes);
  if (problem !== null) return { up: false, reason: problem };
  const name = CODES[answer[0]];
  if (name === undefined) return { up: false, reason: `RADIUS unexpected response code ${answer[0]}` };
  if (answer[0] === ACCESS_ACCEPT) return { up: true, reason: `RADIUS ${name}` };
  if (expect === 'any') return { up: true, reason: `RADIUS ${name} (server alive)` };
  return { up: false, reason: `RADIUS ${name}` };
}

function down(why: string): CheckResult {
  return { up: false, reason: `malformed RADIUS response: ${why}` };
}

/** The offset of the Message-Authenticator's value (null: none), or why the attributes are malformed. */
function walkAttributes(packet: Buffer): { messageAuthenticator: number | null } | string {
  let messageAuthenticator: number | null = null;
  let offset = HEADER;
  while (offset < packet.length) {
    if (offset + 2 > packet.length) return `attribute at ${offset} is cut short`;
    const type = packet[offset];
    const length = packet[offset + 1];
    if (length < 2 || offset + length > packet.length) return `attribute ${type} at ${offset} has a bad length ${length}`;
    if (type === MESSAGE_AUTHENTICATOR) {
      if (length !== 18) return `Message-Authenticator has length ${length}`;
      if (messageAuthenticator !== null) return 'more than one Message-Authenticator';
      messageAuthenticator = offset + 2;
    }
    offset += length;
  }
  return { messageAuthenticator };
}

/** null when the response is signed with our secret, else the reason. */
function verify(response: Buffer, request: Buffer, secret: string, attributes: { messageAuthenticator: number | null }): string | null {
  // Response Authenticator = MD5(Code+Identifier+Length+RequestAuthenticator+Attributes+Secret)
  const expected = createHash('md5')
    .update(response.subarray(0, 4))
    .update(request.subarray(4, 20))
    .update(response.subarray(20))
    .update(secret)
    .digest();
  if (!timingSafeEqual(expected, response.subarray(4, 20))) return 'RADIUS response authenticator mismatch (wrong secret?)';
  const at = attributes.messageAuthenticator;
  // optional in answers to a request without EAP (RFC 3579 3.2); verified when present
  if (at === null) return null;
  // HMAC-MD5 over the response with the request's authenticator in place and the value zeroed
  const copy = Buffer.from(response);
  request.copy(copy, 4, 4, 20);
  copy.fill(0, at, at + 16);
  const mac = createHmac('md5', secret).update(copy).digest();
  if (!timingSafeEqual(mac, response.subarray(at, at + 16))) return 'RADIUS Message-Authenticator mismatch (wrong secret?)';
  return null;
}

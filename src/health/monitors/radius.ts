// radius: one Access-Request (PAP, RFC 2865) signed with a Message-Authenticator (RFC 3579),
// over UDP. The answer is matched by identifier and its Response Authenticator (and
// Message-Authenticator, when present) verified with the shared secret before it counts.

import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { RadiusMonitor } from '../../config/health-types.ts';
import type { Monitor } from '../monitor.ts';
import { errorText, runCheck } from './proto-check.ts';
import { udpExchange } from './proto-transport.ts';

interface RadiusLibrary {
  encode(args: {
    code: string;
    secret: string;
    identifier: number;
    authenticator: Buffer;
    attributes: [string, string | Buffer][];
    add_message_authenticator: boolean;
  }): Buffer;
}

// the package has no types; this is the one function used
const radius = createRequire(import.meta.url)('radius') as RadiusLibrary;

const ACCESS_ACCEPT = 2;
const ACCESS_REJECT = 3;
const ACCESS_CHALLENGE = 11;
const MESSAGE_AUTHENTICATOR = 80;
const CODES: Record<number, string> = {
  [ACCESS_ACCEPT]: 'Access-Accept',
  [ACCESS_REJECT]: 'Access-Reject',
  [ACCESS_CHALLENGE]: 'Access-Challenge',
};

export function createRadiusMonitor(config: RadiusMonitor): Monitor {
  return {
    run(target, signal) {
      return runCheck(signal, (scope) => {
        let request: Buffer | undefined;
        udpExchange(
          scope,
          target,
          (peer) => {
            request = accessRequest(config, peer.local.ip);
            peer.send(request);
          },
          (response) => {
            // another exchange's answer, or noise: keep waiting for ours
            if (request === undefined || response.length < 20 || response[1] !== request[1]) return;
            const length = response.readUInt16BE(2);
            if (length < 20 || length > response.length) return scope.down('malformed RADIUS response');
            const answer = response.subarray(0, length); // octets past Length are padding (RFC 2865 3)
            const problem = verify(answer, request, config.secret);
            if (problem !== null) return scope.down(problem);
            const name = CODES[answer[0]];
            if (name === undefined) return scope.down(`RADIUS unexpected response code ${answer[0]}`);
            if (answer[0] === ACCESS_ACCEPT) return scope.up(`RADIUS ${name}`);
            if (config.expect === 'any') return scope.up(`RADIUS ${name} (server alive)`);
            scope.down(`RADIUS ${name}`);
          },
        );
      });
    },
  };
}

function accessRequest(config: RadiusMonitor, localIp: string): Buffer {
  const attributes: [string, string | Buffer][] = [
    // first, as recommended against forged responses (BlastRADIUS); its value is filled in below
    ['Message-Authenticator', Buffer.alloc(16)],
    ['User-Name', config.username],
    ['User-Password', config.password],
    ['NAS-Identifier', config.nasIdentifier],
  ];
  if (net.isIPv4(localIp)) attributes.push(['NAS-IP-Address', localIp]);
  else if (net.isIPv6(localIp)) attributes.push(['NAS-IPv6-Address', localIp]);
  let packet: Buffer;
  try {
    packet = radius.encode({
      code: 'Access-Request',
      secret: config.secret,
      identifier: randomInt(0, 256),
      authenticator: randomBytes(16),
      attributes,
      add_message_authenticator: false,
    });
  } catch (err) {
    throw new Error(`cannot encode the Access-Request: ${errorText(err)}`);
  }
  // HMAC-MD5 over the whole request with the attribute's value zeroed (RFC 3579 3.2)
  if (packet[20] !== MESSAGE_AUTHENTICATOR || packet[21] !== 18) throw new Error('Message-Authenticator is not the first attribute');
  createHmac('md5', config.secret).update(packet).digest().copy(packet, 22);
  return packet;
}

/** null when the response is signed with our secret, else the reason. */
function verify(response: Buffer, request: Buffer, secret: string): string | null {
  // Response Authenticator = MD5(Code+Identifier+Length+RequestAuthenticator+Attributes+Secret)
  const expected = createHash('md5')
    .update(response.subarray(0, 4))
    .update(request.subarray(4, 20))
    .update(response.subarray(20))
    .update(secret)
    .digest();
  if (!timingSafeEqual(expected, response.subarray(4, 20))) return 'RADIUS response authenticator mismatch (wrong secret?)';
  const at = findAttribute(response, MESSAGE_AUTHENTICATOR);
  // optional in answers to a request without EAP (RFC 3579 3.2); verified when present
  if (at === null) return null;
  if (at < 0) return 'malformed RADIUS response';
  // HMAC-MD5 over the response with the request's authenticator in place and the value zeroed
  const copy = Buffer.from(response);
  request.copy(copy, 4, 4, 20);
  copy.fill(0, at, at + 16);
  const mac = createHmac('md5', secret).update(copy).digest();
  if (!timingSafeEqual(mac, response.subarray(at, at + 16))) return 'RADIUS Message-Authenticator mismatch (wrong secret?)';
  return null;
}

/** The offset of the attribute's value; null if absent; -1 if the attributes are malformed. */
function findAttribute(packet: Buffer, type: number): number | null {
  let offset = 20;
  while (offset < packet.length) {
    if (offset + 2 > packet.length) return -1;
    const length = packet[offset + 1];
    if (length < 2 || offset + length > packet.length) return -1;
    if (packet[offset] === type) return length === 18 ? offset + 2 : -1;
    offset += length;
  }
  return null;
}

// radius: one Access-Request (PAP, RFC 2865) signed with a Message-Authenticator (RFC 3579),
// over UDP. The answer is matched by identifier and its Response Authenticator (and
// Message-Authenticator, when present) verified with the shared secret before it counts.

import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { RadiusMonitor } from '../../config/health-types.ts';
import type { Monitor } from '../monitor.ts';
import { errorText, runCheck } from './proto-check.ts';
import { udpExchange } from './proto-transport.ts';
import { judgeRadiusReply } from './radius-reply.ts';

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

const MESSAGE_AUTHENTICATOR = 80;

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
            if (request === undefined) return;
            // null: the answer to another identifier; keep waiting for ours
            const result = judgeRadiusReply(response, request, config.secret, config.expect);
            if (result !== null) scope.done(result);
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

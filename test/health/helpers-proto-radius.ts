// RADIUS peers for the radius monitor tests. FreeRADIUS: a raddb of its own (freeradius-conf.ts)
// with a client secret and users written by the test, listening on a free loopback port, in the
// foreground (-X) as a child of the test.

import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import { freeRadiusConf } from './freeradius-conf.ts';
import { retryPortClash, startPeer, type Peer } from './helpers-proto.ts';
import { atEnd } from '../helpers/cleanup.ts';
import { tempDir } from '../helpers/files.ts';
import { freePort } from '../helpers/ports.ts';

export interface FreeRadius {
  port: number;
  peer: Peer;
}

/** `users`: name -> Cleartext-Password. */
export async function startFreeRadius(secret: string, users: Record<string, string>): Promise<FreeRadius> {
  const dir = path.join(await tempDir('radius'), 'raddb');
  const conf = await freeRadiusConf(dir, secret, users);
  return retryPortClash(async () => {
    const port = await freePort();
    await conf.listenOn(port);
    const peer = startPeer('/usr/sbin/freeradius', ['-X', '-d', dir]);
    await peer.waitFor(/^Ready to process requests/m);
    return { port, peer };
  });
}

interface DecodedRadius {
  code: string;
  identifier: number;
  authenticator: Buffer;
  attributes: Record<string, unknown>;
  raw_attributes: [number, Buffer][];
}

interface RadiusLibrary {
  decode(args: { packet: Buffer; secret: string }): DecodedRadius;
  decode_without_secret(args: { packet: Buffer }): DecodedRadius;
  encode_response(args: { packet: DecodedRadius; code: string; secret: string }): Buffer;
}

const radius = createRequire(import.meta.url)('radius') as RadiusLibrary;

export interface RadiusResponder {
  port: number;
  /** each request as decoded with the responder's secret (null when that failed: another secret) */
  received: (DecodedRadius | null)[];
  close(): Promise<void>;
}

/**
 * A small RADIUS server on loopback (the `radius` package, independent of the monitor's code)
 * for what FreeRADIUS never does: answer signed with a secret other than the client's, with a
 * broken Message-Authenticator, a challenge to PAP, a truncated packet. `secret` is the one it signs with.
 */
export async function startRadiusResponder(
  secret: string,
  mode: 'accept' | 'challenge' | 'bad-message-authenticator' | 'truncated',
): Promise<RadiusResponder> {
  const socket = dgram.createSocket('udp4');
  const received: (DecodedRadius | null)[] = [];
  socket.on('message', (message, from) => {
    let request: DecodedRadius;
    try {
      request = radius.decode({ packet: message, secret });
      received.push(request);
    } catch {
      received.push(null);
      request = radius.decode_without_secret({ packet: message });
    }
    const code = mode === 'challenge' ? 'Access-Challenge' : 'Access-Accept';
    let response = radius.encode_response({ packet: request, code, secret });
    if (mode === 'truncated') response = response.subarray(0, response.length - 1); // Length says one more octet
    if (mode === 'bad-message-authenticator') {
      // flip a bit of the Message-Authenticator, then sign the packet correctly again
      const at = response.indexOf(Buffer.from([80, 18]), 20);
      response[at + 2] ^= 1;
      createHash('md5')
        .update(response.subarray(0, 4))
        .update(request.authenticator)
        .update(response.subarray(20))
        .update(secret)
        .digest()
        .copy(response, 4);
    }
    socket.send(response, from.port, from.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const close = atEnd(async () => {
    socket.close();
    await once(socket, 'close');
  });
  return { port: socket.address().port, received, close };
}

// RADIUS peers for the `balance-per: radius-request` tests (the `radius` package): a client on one
// source port that checks each answer is signed for its request, and a server that challenges
// like EAP's first round.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { atEnd } from '../helpers/cleanup.ts';
import { pool, single } from '../helpers/config.ts';

export interface Decoded {
  code: string;
  identifier: number;
  attributes: Record<string, unknown>;
}

export interface RadiusLibrary {
  encode(args: { code: string; identifier: number; secret: string; attributes: [string, string | Buffer][] }): Buffer;
  encode_response(args: { packet: Decoded; code: string; secret: string; attributes?: [string, string | Buffer][] }): Buffer;
  decode(args: { packet: Buffer; secret: string }): Decoded;
  verify_response(args: { request: Buffer; response: Buffer; secret: string }): boolean;
}

export const radius = createRequire(import.meta.url)('radius') as RadiusLibrary;
export const SECRET = 'furiwake-radius';

/** A RADIUS client on one socket: ask() sends a request and waits for the answer to its Identifier. */
export async function radiusClient() {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const waiting = new Map<number, (data: Buffer) => void>();
  const received: Buffer[] = [];
  socket.on('message', (data) => {
    received.push(data);
    waiting.get(data[1])?.(data);
  });
  const close = atEnd(async () => {
    socket.close();
    await once(socket, 'close');
  });
  return {
    received,
    send(port: number, packet: Buffer): void {
      socket.send(packet, port, '127.0.0.1');
    },
    /** the answer to `packet`, checked to be signed for it with the secret */
    async ask(port: number, packet: Buffer): Promise<Decoded> {
      const answer = new Promise<Buffer>((resolve) => waiting.set(packet[1], resolve));
      socket.send(packet, port, '127.0.0.1');
      const data = await answer;
      waiting.delete(packet[1]);
      assert.ok(radius.verify_response({ request: packet, response: Buffer.from(data), secret: SECRET }), 'the answer is signed for its request');
      return radius.decode({ packet: data, secret: SECRET });
    },
    close,
  };
}

export function accessRequest(identifier: number, user: string, password: string, state?: Buffer): Buffer {
  const attributes: [string, string | Buffer][] = [['User-Name', user], ['User-Password', password]];
  if (state !== undefined) attributes.push(['State', state]);
  return radius.encode({ code: 'Access-Request', identifier, secret: SECRET, attributes });
}

/**
 * A RADIUS server that challenges a request without State (issuing a State of its own) and
 * accepts one that brings a State it issued (rejects any other): two rounds, as EAP has.
 */
export async function startChallenger(name: string, stray = false) {
  const socket = dgram.createSocket('udp4');
  const received: Decoded[] = [];
  let issued = 0;
  socket.on('message', (message, from) => {
    const request = radius.decode({ packet: message, secret: SECRET });
    received.push(request);
    const state = request.attributes.State as Buffer | undefined;
    let response: Buffer;
    if (state === undefined) {
      response = radius.encode_response({ packet: request, code: 'Access-Challenge', secret: SECRET, attributes: [['State', Buffer.from(`${name}-${issued++}`)]] });
    } else {
      const own = state.toString().startsWith(`${name}-`);
      response = radius.encode_response({ packet: request, code: own ? 'Access-Accept' : 'Access-Reject', secret: SECRET, attributes: [['Reply-Message', name]] });
    }
    if (stray) {
      // before the answer: garbage, and an answer to a request the client did not send
      socket.send(Buffer.from('hello'), from.port, from.address);
      const other = Buffer.from(response);
      other[1] ^= 0x80;
      socket.send(other, from.port, from.address);
    }
    socket.send(response, from.port, from.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  atEnd(async () => {
    socket.close();
    await once(socket, 'close');
  });
  return { port: socket.address().port, received };
}

export function radiusService(ports: number[]) {
  return single('udp', pool('round-robin', ports.map((port, i) => ({ port, id: 'ab'[i] }))), { balancePer: 'radius-request' });
}
